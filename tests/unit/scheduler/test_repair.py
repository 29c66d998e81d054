"""Repair after a fault or an urgent request moves as few bookings as it can, and says why."""

import json

from typer.testing import CliRunner

from scheduler.cli import schedule_app
from scheduler.problem import Assignment, parse_problem
from scheduler.repair import Fault, parse_event, repair


def two_machines() -> dict:
    return {
        "resources": [{"id": "R1"}, {"id": "R2"}],
        "requests": [
            {
                "id": f"Q{i}",
                "org": f"o{i % 3}",
                "due": 400,
                "steps": [{"id": "s1", "duration_minutes": 60, "resources": ["R1", "R2"]}],
            }
            for i in range(6)
        ],
    }


# A hand-made plan: three hours of work on each machine.
CURRENT = [
    Assignment(f"Q{i}", "s1", "R1" if i % 2 == 0 else "R2", 60 * (i // 2), 60 * (i // 2) + 60)
    for i in range(6)
]


def test_fault_moves_only_the_bookings_it_hits() -> None:
    problem = parse_problem(two_machines())
    result = repair(problem, CURRENT, Fault("R1", 60, 180), now=30, time_limit=3)
    assert result.plan.status == "optimal"
    moved = {m.request: m for m in result.moved}
    # Q2 (60-120) and Q4 (120-180) sat on R1 during the fault; nothing else had to move.
    assert set(moved) == {"Q2", "Q4"}
    assert all("R1 is out of service" in m.reason for m in moved.values())
    new = {a.request: a for a in result.plan.assignments}
    for qid in ("Q2", "Q4"):
        a = new[qid]
        assert not (a.resource == "R1" and a.start < 180 and a.end > 60)
    # The booking that was running at `now` stays frozen.
    assert new["Q0"] == CURRENT[0]


def test_running_booking_cut_by_the_fault_is_reported_for_rebooking() -> None:
    problem = parse_problem(two_machines())
    result = repair(problem, CURRENT, Fault("R1", 30, 90), now=40, time_limit=3)
    moved = {m.request: m for m in result.moved}
    assert moved["Q0"].after is None and "interrupted" in moved["Q0"].reason
    assert result.plan.kpis["interrupted_requests"] == ["Q0"]


def test_urgent_key_project_takes_one_slot_and_bumps_one_booking() -> None:
    problem = parse_problem(two_machines())
    event = parse_event(
        {
            "kind": "urgent",
            "request": {
                "id": "U",
                "key_project": True,
                "deadline": 60,
                "steps": [{"id": "s1", "duration_minutes": 60, "resources": ["R2"]}],
            },
        },
        problem,
    )
    result = repair(problem, CURRENT, event, now=0, time_limit=3)
    urgent = [a for a in result.plan.assignments if a.request == "U"]
    assert [(a.resource, a.start) for a in urgent] == [("R2", 0)]
    assert [m.request for m in result.moved] == ["Q1"]
    assert result.moved[0].reason == "its slot on R2 went to urgent request U"


def test_move_cap_is_respected_when_it_can_be() -> None:
    problem = parse_problem(two_machines())
    event = parse_event(
        {
            "kind": "urgent",
            "request": {
                "id": "U",
                "key_project": True,
                "steps": [{"id": "s1", "duration_minutes": 120, "resources": ["R1"]}],
                "deadline": 180,
            },
        },
        problem,
    )
    result = repair(problem, CURRENT, event, now=0, time_limit=3, max_moves=2)
    assert len(result.moved) <= 2
    assert any(a.request == "U" for a in result.plan.assignments)


def test_cli_repair_prints_moves(tmp_path) -> None:
    problem_file = tmp_path / "p.json"
    problem_file.write_text(json.dumps(two_machines()))
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"assignments": [a.__dict__ for a in CURRENT]}))
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps({"kind": "fault", "resource": "R1", "start": 60, "end": 180, "now": 30}))
    args = [
        "repair",
        str(problem_file),
        "--plan",
        str(plan_file),
        "--event",
        str(event_file),
        "--time-limit",
        "2",
    ]
    result = CliRunner().invoke(schedule_app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert sorted(m["request"] for m in out["moved"]) == ["Q2", "Q4"]
    event_file.write_text(json.dumps({"kind": "fault", "resource": "R9", "start": 60, "end": 180, "now": 30}))
    result = CliRunner().invoke(schedule_app, args)
    assert result.exit_code == 2 and "event.resource: unknown resource 'R9'" in result.output
