"""A malformed problem file is refused with the path of the bad field; times come back in the input's form."""

import json

import pytest
from typer.testing import CliRunner

from scheduler.cli import schedule_app
from scheduler.io import plan_to_dict
from scheduler.problem import ProblemError, parse_problem
from scheduler.solve import solve


def minimal(**step_overrides: object) -> dict:
    step = {"id": "s1", "duration_minutes": 60, "resources": ["R1"], **step_overrides}
    return {"resources": [{"id": "R1"}], "requests": [{"id": "Q1", "steps": [step]}]}


def error_lines(data: object) -> list[str]:
    with pytest.raises(ProblemError) as info:
        parse_problem(data)
    return [str(e) for e in info.value.errors]


def test_zero_duration_is_refused_with_its_path() -> None:
    data = minimal()
    data["requests"] = [data["requests"][0]] * 3 + [
        {"id": "Q4", "steps": [{"id": "s1", "duration_minutes": 0, "resources": ["R1"]}]}
    ]
    data["requests"][1] = {**data["requests"][1], "id": "Q2"}
    data["requests"][2] = {**data["requests"][2], "id": "Q3"}
    assert error_lines(data) == ["requests[3].steps[0].duration_minutes: must be > 0"]


def test_unknown_resource_missing_field_and_unknown_field() -> None:
    data = minimal(resources=["R1", "R9"])
    assert error_lines(data) == ["requests[0].steps[0].resources[1]: unknown resource 'R9'"]
    data = minimal()
    del data["requests"][0]["steps"][0]["id"]
    assert error_lines(data) == ["requests[0].steps[0].id: is required"]
    assert error_lines(minimal(duration=5)) == ["requests[0].steps[0].duration: unknown field"]


def test_times_need_a_zone_and_one_form() -> None:
    data = {
        "horizon": {"start": "2026-12-01T00:00:00+08:00", "end": "2026-12-02T00:00:00"},
        "resources": [{"id": "R1"}],
        "requests": [],
    }
    [line] = error_lines(data)
    assert line.startswith("horizon.end: ") and "no time zone" in line
    data["horizon"]["end"] = "2026-12-02T00:00:00+08:00"
    data["requests"] = [
        {"id": "Q1", "release": 30, "steps": [{"id": "s", "duration_minutes": 5, "resources": ["R1"]}]}
    ]
    assert error_lines(data) == [
        "requests[0].release: must use the same form as the rest of the file (ISO 8601 times)"
    ]


def test_gap_fields_and_pool_members_are_checked() -> None:
    data = minimal()
    data["requests"][0]["steps"].append(
        {"id": "s2", "duration_minutes": 5, "resources": ["R1"], "min_gap_minutes": 30, "max_gap_minutes": 10}
    )
    data["pools"] = [{"id": "staff", "capacity": 1, "members": ["R1", "R2"]}]
    assert error_lines(data) == [
        "requests[0].steps[1].max_gap_minutes: must be >= min_gap_minutes",
        "pools[0].members[1]: unknown resource 'R2'",
    ]


def test_cli_exits_2_naming_the_field(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(minimal(duration_minutes=-5)))
    result = CliRunner().invoke(schedule_app, ["solve", str(bad)])
    assert result.exit_code == 2
    assert "requests[0].steps[0].duration_minutes: must be > 0" in result.output
    assert result.stdout.strip() == "" or "status" not in result.stdout


def test_cli_exits_2_for_missing_and_non_json_files(tmp_path) -> None:
    result = CliRunner().invoke(schedule_app, ["solve", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "no such file" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"resources": [')
    result = CliRunner().invoke(schedule_app, ["solve", str(broken)])
    assert result.exit_code == 2 and "not valid JSON (line 1" in result.output


def test_cli_prints_the_plan_as_json(tmp_path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(minimal()))
    result = CliRunner().invoke(schedule_app, ["solve", str(good), "--time-limit", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["status"] == "optimal"
    assert plan["assignments"] == [{"request": "Q1", "step": "s1", "resource": "R1", "start": 0, "end": 60}]


def test_iso_input_gives_iso_output_in_the_same_zone() -> None:
    problem = parse_problem(
        {
            "horizon": {"start": "2026-12-01T00:00:00+08:00", "end": "2026-12-03T00:00:00+08:00"},
            "resources": [
                {"id": "F50-1", "open": [["2026-12-01T08:00:00+08:00", "2026-12-01T20:00:00+08:00"]]}
            ],
            "requests": [
                {"id": "Q1", "steps": [{"id": "s1", "duration_minutes": 240, "resources": ["F50-1"]}]}
            ],
        }
    )
    out = plan_to_dict(solve(problem, time_limit=1), problem)
    assert out["assignments"][0]["start"] == "2026-12-01T08:00:00+08:00"
    assert out["assignments"][0]["end"] == "2026-12-01T12:00:00+08:00"


def test_cli_progress_goes_to_stderr_only(tmp_path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(minimal()))
    result = CliRunner().invoke(schedule_app, ["solve", str(good), "--time-limit", "1", "--seed", "3"])
    assert result.exit_code == 0
    assert "solving 1 requests on 1 resources" in result.stderr
    assert "[placed_weight]" in result.stderr
    assert json.loads(result.stdout)["status"] == "optimal"
