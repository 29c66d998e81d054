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
