"""Unplaced requests come with a reason a person can act on."""

from scheduler.problem import parse_problem
from scheduler.solve import solve

H = "2026-12-0{}T{}:00+08:00"


def day(d: int, hh: str) -> str:
    return H.format(d, hh)


def fermenters() -> dict:
    return {
        "horizon": {"start": day(1, "00:00"), "end": day(9, "00:00")},
        "resources": [
            {
                "id": "F50-1",
                "open": [[day(d, "08:00"), day(d, "20:00")] for d in range(1, 9)],
                "unavailable": [[day(1, "00:00"), day(8, "00:00")]],
            },
            {"id": "F50-2", "open": [[day(d, "08:00"), day(d, "20:00")] for d in range(1, 9)]},
        ],
        "requests": [],
    }


def test_window_fully_booked_gives_the_earliest_feasible_start() -> None:
    data = fermenters()
    # A key project holds F50-2 from Dec 3 to Dec 5; F50-1 is in maintenance until Dec 8.
    data["requests"] = [
        {
            "id": f"KEY{d}",
            "key_project": True,
            "release": day(d, "00:00"),
            "deadline": day(d, "20:00"),
            "steps": [{"id": "s1", "duration_minutes": 720, "resources": ["F50-2"]}],
        }
        for d in (3, 4, 5)
    ] + [
        {
            "id": "Q1",
            "org": "sme-7",
            "release": day(3, "08:00"),
            "deadline": day(5, "20:00"),
            "steps": [{"id": "s1", "duration_minutes": 240, "resources": ["F50-1", "F50-2"]}],
        }
    ]
    plan = solve(parse_problem(data), time_limit=2)
    [unplaced] = plan.unplaced
    assert unplaced.request == "Q1"
    assert unplaced.reason.startswith(
        "no candidate resource (F50-1, F50-2) is free for 240 min "
        "between 2026-12-03 08:00 and 2026-12-05 20:00"
    )
    assert "key projects among them: KEY3, KEY4, KEY5" in unplaced.reason
    assert unplaced.reason.endswith("the earliest feasible start is 2026-12-06 08:00 on F50-2")


def test_step_longer_than_any_opening_period() -> None:
    data = fermenters()
    data["requests"] = [
        {"id": "LONG", "steps": [{"id": "s1", "duration_minutes": 900, "resources": ["F50-2"]}]}
    ]
    plan = solve(parse_problem(data), time_limit=1)
    assert plan.unplaced[0].reason == (
        "step s1 needs 900 min but the longest opening period of its candidate resources (F50-2) is 720 min; "
        "allow unattended runs or split the step"
    )


def test_window_that_only_maintenance_closes() -> None:
    data = fermenters()
    data["requests"] = [
        {
            "id": "Q",
            "release": day(2, "08:00"),
            "deadline": day(3, "20:00"),
            "steps": [{"id": "s1", "duration_minutes": 60, "resources": ["F50-1"]}],
        }
    ]
    plan = solve(parse_problem(data), time_limit=1)
    assert plan.unplaced[0].reason.startswith(
        "step s1 (60 min) fits on none of its candidate resources (F50-1) between 2026-12-02 08:00 and "
        "2026-12-03 20:00: opening hours, maintenance and confirmed bookings leave no gap that long"
    )


def test_window_shorter_than_the_work() -> None:
    data = fermenters()
    data["requests"] = [
        {
            "id": "Q",
            "release": day(8, "20:00"),
            "steps": [{"id": "s1", "duration_minutes": 600, "resources": ["F50-2"]}],
        }
    ]
    plan = solve(parse_problem(data), time_limit=1)
    assert plan.unplaced[0].reason == (
        "its window from 2026-12-08 20:00 to 2026-12-09 00:00 is shorter than its 600 min of work; "
        "move the release or deadline, or extend the horizon"
    )


def test_request_blocked_by_a_confirmed_booking_names_it() -> None:
    data = {
        "horizon": {"start": 0, "end": 100},
        "resources": [{"id": "R1"}],
        "requests": [
            {"id": "HELD", "steps": [{"id": "s1", "duration_minutes": 80, "resources": ["R1"]}]},
            {"id": "NEW", "steps": [{"id": "s1", "duration_minutes": 30, "resources": ["R1"]}]},
        ],
        "fixed": [{"request": "HELD", "step": "s1", "resource": "R1", "start": 10}],
    }
    plan = solve(parse_problem(data), time_limit=1)
    assert plan.unplaced[0].request == "NEW"
    assert plan.unplaced[0].reason == (
        "no candidate resource (R1) is free for 30 min between t=0 and t=100 (held by HELD); "
        "the earliest feasible start is t=90 on R1"
    )
