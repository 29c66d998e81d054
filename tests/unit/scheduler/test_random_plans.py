"""Random small problems: every plan the solver or the dispatching rule returns keeps every rule."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import greedy
from scheduler.check import check_plan
from scheduler.problem import parse_problem
from scheduler.solve import solve


@st.composite
def problems(draw: st.DrawFn) -> dict:
    n_res = draw(st.integers(1, 4))
    resources = []
    for i in range(n_res):
        r: dict = {"id": f"R{i}", "capacity": draw(st.sampled_from([1, 1, 2]))}
        if draw(st.booleans()):
            r["open"] = [[d * 100, d * 100 + draw(st.integers(40, 90))] for d in range(6)]
            r["unattended"] = draw(st.booleans())
            r["unattended_ends_open"] = r["unattended"] and draw(st.booleans())
        if draw(st.booleans()):
            s = draw(st.integers(0, 500))
            r["unavailable"] = [[s, s + draw(st.integers(5, 60))]]
        if r["capacity"] == 1:
            r["changeover_minutes"] = draw(st.sampled_from([0, 0, 10]))
        r["setup_minutes"] = draw(st.sampled_from([0, 0, 5]))
        resources.append(r)
    ids = [r["id"] for r in resources]
    requests = []
    for j in range(draw(st.integers(1, 7))):
        steps = []
        for k in range(draw(st.integers(1, 3))):
            step: dict = {
                "id": f"s{k}",
                "duration_minutes": draw(st.integers(5, 50)),
                "resources": draw(st.lists(st.sampled_from(ids), min_size=1, max_size=2, unique=True)),
            }
            if k > 0 and draw(st.booleans()):
                lo = draw(st.integers(0, 20))
                step["min_gap_minutes"] = lo
                step["max_gap_minutes"] = lo + draw(st.integers(0, 120))
            steps.append(step)
        release = draw(st.integers(0, 300))
        requests.append(
            {
                "id": f"Q{j}",
                "org": draw(st.sampled_from(["a", "b", "c"])),
                "weight": draw(st.integers(1, 3)),
                "key_project": draw(st.booleans()),
                "release": release,
                "due": release + draw(st.integers(30, 300)),
                "steps": steps,
            }
        )
    data = {"horizon": {"start": 0, "end": 600}, "resources": resources, "requests": requests}
    if n_res > 1 and draw(st.booleans()):
        data["pools"] = [{"id": "staff", "capacity": 1, "members": ids[:2]}]
    if draw(st.booleans()):
        cut = draw(st.integers(100, 500))
        data["budgets"] = [
            {"id": "a1", "org": "a", "start": 0, "end": cut, "minutes": draw(st.integers(0, 90))},
            {"id": "a2", "org": "a", "start": cut, "end": 600, "minutes": draw(st.integers(0, 90))},
        ]
    if draw(st.booleans()):
        s = draw(st.integers(0, 400))
        data["fixed"] = [
            {
                "request": "OUTSIDE",
                "step": "s",
                "resource": draw(st.sampled_from(ids)),
                "start": s,
                "end": s + draw(st.integers(10, 80)),
                "org": draw(st.sampled_from(["a", "z"])),
            }
        ]
    return data


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solver_and_dispatcher_plans_keep_every_rule(data: dict) -> None:
    problem = parse_problem(data)
    plan = solve(problem, time_limit=0.5, workers=2, seed=0)
    assert check_plan(problem, plan.assignments) == []
    fcfs, _ = greedy.list_schedule(problem)
    assert check_plan(problem, fcfs) == []
    # The optimizer never places less priority weight than the dispatching rule it starts from.
    placed = {a.request for a in plan.assignments}
    greedy_placed = {a.request for a in fcfs}
    weight = {q.id: q.weight * (100 if q.key_project else 1) for q in problem.requests}
    assert sum(weight[q] for q in placed) >= sum(weight[q] for q in greedy_placed) or plan.status == "unknown"
