"""Rolling-window re-solves make a late plan less late without dropping or breaking anything."""

import time

from scheduler.check import check_plan
from scheduler.polish import polish_lateness, weighted_lateness
from scheduler.problem import Assignment, parse_problem


def test_window_resolves_put_due_work_first() -> None:
    problem = parse_problem(
        {
            "horizon": {"start": 0, "end": 3000},
            "resources": [{"id": "R1", "changeover_minutes": 10}, {"id": "R2"}],
            "requests": [
                {
                    "id": f"Q{i}",
                    "org": f"o{i % 2}",
                    "due": 60 * (4 - i),
                    "steps": [
                        {"id": "s1", "duration_minutes": 50, "resources": ["R1"]},
                        {"id": "s2", "duration_minutes": 20, "resources": ["R2"], "max_gap_minutes": 200},
                    ],
                }
                for i in range(4)
            ],
        }
    )
    # Latest-due first: every request but the first is late.
    late_plan = []
    for k, i in enumerate(range(4)):
        start = 60 * k
        late_plan += [
            Assignment(f"Q{i}", "s1", "R1", start, start + 50),
            Assignment(f"Q{i}", "s2", "R2", start + 50, start + 70),
        ]
    assert check_plan(problem, late_plan) == []
    before = weighted_lateness(problem, late_plan, 100)
    better = polish_lateness(problem, late_plan, time.perf_counter() + 5, 100, window=3000, stride=3000)
    assert check_plan(problem, better) == []
    assert {a.request for a in better} == {a.request for a in late_plan}
    assert weighted_lateness(problem, better, 100) < before


def test_solve_uses_window_resolves_on_large_problems(monkeypatch) -> None:
    import scheduler.solve as solve_module
    from scheduler.solve import solve

    monkeypatch.setattr(solve_module, "POLISH_MIN_REQUESTS", 1)
    problem = parse_problem(
        {
            "horizon": {"start": 0, "end": 6000},
            "resources": [{"id": "R1"}, {"id": "R2"}],
            "requests": [
                {
                    "id": f"Q{i}",
                    "org": f"o{i % 3}",
                    "weight": 1 + i % 3,
                    "release": 30 * i,
                    "due": 30 * i + 120,
                    "steps": [{"id": "s1", "duration_minutes": 40 + 5 * (i % 4), "resources": ["R1", "R2"]}],
                }
                for i in range(30)
            ],
        }
    )
    plan = solve(problem, time_limit=4)
    assert [s["name"] for s in plan.kpis["stages"]][:2] == ["placed_weight", "lateness"]
    assert plan.kpis["stages"][1]["bound"] is None  # the window re-solves prove no bound
    assert check_plan(problem, plan.assignments) == [] and len(plan.unplaced) == 0


def test_flow_windows_pull_work_earlier_without_adding_lateness() -> None:
    from scheduler.polish import flow_time

    problem = parse_problem(
        {
            "horizon": {"start": 0, "end": 1000},
            "resources": [{"id": "R1"}],
            "requests": [
                {
                    "id": f"Q{i}",
                    "due": 500,
                    "steps": [{"id": "s1", "duration_minutes": 30, "resources": ["R1"]}],
                }
                for i in range(3)
            ],
        }
    )
    spread = [Assignment(f"Q{i}", "s1", "R1", 100 * (i + 1), 100 * (i + 1) + 30) for i in range(3)]
    packed = polish_lateness(
        problem, spread, time.perf_counter() + 5, 100, window=1000, stride=1000, aim="flow"
    )
    assert check_plan(problem, packed) == []
    assert sorted(a.start for a in packed) == [0, 30, 60]
    assert flow_time(problem, packed) < flow_time(problem, spread)
    assert weighted_lateness(problem, packed, 100) == 0


def test_fill_in_places_requests_into_gaps_without_moving_anyone() -> None:
    from scheduler.greedy import fill_in

    problem = parse_problem(
        {
            "horizon": {"start": 0, "end": 300},
            "resources": [{"id": "R1", "changeover_minutes": 10}],
            "requests": [
                {"id": "A", "org": "a", "steps": [{"id": "s1", "duration_minutes": 50, "resources": ["R1"]}]},
                {"id": "B", "org": "b", "steps": [{"id": "s1", "duration_minutes": 50, "resources": ["R1"]}]},
                {"id": "C", "org": "c", "steps": [{"id": "s1", "duration_minutes": 80, "resources": ["R1"]}]},
                {
                    "id": "D",
                    "org": "d",
                    "steps": [{"id": "s1", "duration_minutes": 200, "resources": ["R1"]}],
                },
            ],
        }
    )
    plan = [Assignment("A", "s1", "R1", 0, 50), Assignment("B", "s1", "R1", 200, 250)]
    filled, still = fill_in(problem, plan, ["C", "D"])
    assert still == ["D"]
    assert filled[:2] == plan  # nobody moved
    assert [(a.request, a.start) for a in filled[2:]] == [("C", 60)]  # after A's end plus the changeover
    assert check_plan(problem, filled) == []
