"""Trace record/replay, the SME demand generator and booking-driven usage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulators.demand import DemandConfig, generate_problem
from simulators.devices import make_device
from simulators.platform import fleet_specs, load_platform
from simulators.replay import TraceDevice, read_trace, record_device, traces_equal
from simulators.usage import UsageRates, parse_bookings, plan_usage


def test_replay_reproduces_the_recording_sample_for_sample(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    d = make_device("fermenter", "F5-1", seed=9)
    d.start_run(sterilize_hold_s=120, run_s=600)
    rows = record_device(d, path, seconds=1200, hz=2)
    meta, times, recorded = read_trace(path)
    assert rows == len(recorded) == 2401 and meta["device_type"] == "fermenter"

    replay = TraceDevice.load(path)
    assert replay.signals == d.signals  # a known type keeps its signal table (units, Modbus scales)
    replayed = [replay.read()]
    stamps = [replay.ts_ns()]
    while not replay.finished:
        replay.tick(0.5)
        replayed.append(replay.read())
        stamps.append(replay.ts_ns())
    assert stamps == times
    assert traces_equal(replayed, recorded)


def test_faster_replay_skips_time_not_values(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    d = make_device("hplc", "HPLC-1", seed=1)
    d.start_run(samples=2, injection_s=60)
    record_device(d, path, seconds=300, hz=1)
    _, _, recorded = read_trace(path)
    replay = TraceDevice.load(path)
    seen = [replay.read()]
    while not replay.finished:
        replay.tick(10.0)  # 10x the recorded step
        seen.append(replay.read())
    assert seen == recorded[::10]


def test_a_bare_csv_from_a_real_instrument_replays(tmp_path: Path) -> None:
    path = tmp_path / "real.csv"
    path.write_text(
        "ts,temperature_c,state\n2026-12-01T08:00:00+08:00,20.5,idle\n2026-12-01T08:00:01+08:00,20.7,running\n"
    )
    dev = TraceDevice.load(path)
    assert dev.read() == {"temperature_c": 20.5, "state": "idle"}
    dev.tick(1.0)
    assert dev.read()["temperature_c"] == 20.7 and dev.state == "running"
    assert [s.name for s in dev.signals] == ["temperature_c"]


def test_fleet_devices_are_the_platform_resources_then_generated_codes() -> None:
    platform = load_platform()
    typed = [r for r in platform["resources"] if r.get("device_type")]
    specs = fleet_specs(len(typed) + 3, platform)
    assert [s.code for s in specs[: len(typed)]] == [r["code"] for r in typed]
    assert [s.code for s in specs[len(typed) :]] == [
        f"SIM-{i:04d}" for i in range(len(typed), len(typed) + 3)
    ]
    assert specs[len(typed)].device_type == typed[0]["device_type"]


def _check_contract(problem: dict) -> None:  # type: ignore[type-arg]
    assert set(problem) == {"horizon", "resources", "requests", "fixed", "objective"}
    ids = {r["id"] for r in problem["resources"]}
    for r in problem["resources"]:
        assert {"id", "open", "unavailable", "setup_minutes", "capacity"} <= set(r)
    for q in problem["requests"]:
        assert {"id", "org", "weight", "key_project", "release", "due", "steps"} <= set(q)
        assert q["release"] < q["due"]
        for s in q["steps"]:
            assert s["duration_minutes"] > 0 and set(s["resources"]) <= ids and s["resources"]


def test_demand_generator_writes_a_valid_problem_file() -> None:
    problem = generate_problem(DemandConfig(requests=120, days=21, seed=4, key_project_share=0.2))
    _check_contract(problem)
    json.dumps(problem)
    reqs = problem["requests"]
    assert len(reqs) == 120
    assert 0.08 < sum(q["key_project"] for q in reqs) / len(reqs) < 0.35
    assert any(len(q["steps"]) == 3 for q in reqs)  # multi-step routes
    routes = {tuple(tuple(sorted(s["resources"])) for s in q["steps"]) for q in reqs}
    assert any(r[0][0].startswith("F") and "SD-1" in r[1] for r in routes if len(r) == 3)
    try:
        from scheduler.problem import parse_problem
    except ImportError:  # pragma: no cover - the scheduler package is optional here
        return
    parsed = parse_problem(problem)
    assert len(parsed.requests) == 120


def test_demand_generator_is_seeded() -> None:
    assert generate_problem(DemandConfig(seed=3)) == generate_problem(DemandConfig(seed=3))
    assert generate_problem(DemandConfig(seed=3)) != generate_problem(DemandConfig(seed=4))


def _bookings(n: int = 200) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        day = 1 + i // 10
        out.append(
            {
                "resource": f"R{i % 10}",
                "start": f"2026-12-{day:02d}T09:00:00+08:00",
                "end": f"2026-12-{day:02d}T13:00:00+08:00",
                "org": f"sme-{i % 7}",
                "id": f"B{i}",
            }
        )
    return out


def test_usage_plan_follows_the_configured_rates() -> None:
    bookings = parse_bookings(_bookings())
    rates = UsageRates(no_show_rate=0.2, late_start_rate=0.3, overrun_rate=0.25, unbooked_per_day=0.5)
    plan = plan_usage(bookings, rates, seed=1)
    booked = [s for s in plan.sessions if s.kind == "booked"]
    assert 0.1 < len(plan.no_shows) / len(bookings) < 0.3
    by_id = {b.id: b for b in bookings}
    late = sum(s.start_ns > by_id[s.booking].start_ns for s in booked) / len(booked)
    over = sum(s.end_ns > by_id[s.booking].end_ns for s in booked) / len(booked)
    assert 0.2 < late < 0.4 and 0.15 < over < 0.35
    assert any(s.kind == "unbooked" for s in plan.sessions)
    assert len(plan.actions) == 2 * len(plan.sessions)
    assert plan_usage(bookings, rates, seed=1) == plan
    json.dumps(plan.to_json())


def test_usage_actions_drive_a_device() -> None:
    bookings = parse_bookings(
        [
            {
                "resource": "F5-1",
                "start": "2026-12-01T09:00:00+08:00",
                "end": "2026-12-01T12:00:00+08:00",
                "org": "a",
            }
        ]
    )
    plan = plan_usage(
        bookings, UsageRates(no_show_rate=0, late_start_rate=0, overrun_rate=0, unbooked_per_day=0)
    )
    d = make_device("fermenter", "F5-1")
    d.handle_command("lock")
    start, stop = plan.actions
    start.apply(d)
    assert d.read()["state"] == "setup" and not d.locked
    d.tick(3600)
    stop.apply(d)
    assert d.read()["state"] == "cleaning"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"start": "2026-12-01T09:00:00+08:00", "end": "2026-12-01T10:00:00+08:00"}, "resource"),
        ({"resource": "X", "start": "2026-12-01T09:00:00", "end": "2026-12-01T10:00:00+08:00"}, "time zone"),
        (
            {"resource": "X", "start": "2026-12-01T11:00:00+08:00", "end": "2026-12-01T10:00:00+08:00"},
            "after",
        ),
    ],
)
def test_bad_bookings_are_refused_with_their_index(bad: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=rf"bookings\[0\].*{message}"):
        parse_bookings([bad])
