"""Solve a problem: lexicographic staged solves (``default``) or one makespan solve (``makespan``).

The ``default`` objective is lexicographic, done by *staged solves*: each stage optimizes one tier, then its
best value is added as a constraint and the next tier is solved from the previous plan as a complete hint.
Tiers, in order:

1. placed priority weight  = sum(weight × (K if key project else 1)) over placed requests, where
   K = 1 + the total weight of ordinary requests, so one key project outranks every ordinary request;
2. weighted lateness       = sum(weight × (KEY_LATENESS_FACTOR if key project else 1) × minutes late);
3. fairness                = the smallest share (per mille) of requested hours granted to any organization;
4. compactness             = sum over placed requests of (end of last step − release): finish early, keep
   steps of one request close together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from scheduler import greedy
from scheduler.check import check_plan
from scheduler.model import ScheduleModel, build_model
from scheduler.problem import Assignment, Plan, Problem, Unplaced

Progress = Callable[[str], None]

KEY_LATENESS_FACTOR = 100
EXPLANATION_SHARE = 0.05
RELATIVE_GAP = 0.001
# From this many requests on, the lateness tier is improved by rolling-window re-solves (polish.py).
POLISH_MIN_REQUESTS = 400
STAGE_SHARES = {"placed_weight": 0.5, "lateness": 0.2, "fairness": 0.1, "compactness": 0.2}
# Large problems: the window re-solves keep improving lateness while full-model stages 3-4 barely move.
STAGE_SHARES_LARGE = {"placed_weight": 0.35, "lateness": 0.45, "fairness": 0.05, "compactness": 0.15}

_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "model_invalid",
    cp_model.UNKNOWN: "unknown",
}


@dataclass
class StageResult:
    name: str
    status: str
    objective: float | None
    bound: float | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "seconds": round(self.seconds, 3),
        }


class _ProgressCallback(cp_model.CpSolverSolutionCallback):
    def __init__(self, stage: str, progress: Progress) -> None:
        super().__init__()
        self.stage, self.progress, self.count = stage, progress, 0

    def on_solution_callback(self) -> None:
        self.count += 1
        self.progress(
            f"[{self.stage}] solution {self.count}: objective {self.objective_value:g}, "
            f"bound {self.best_objective_bound:g}, {self.wall_time:.2f}s"
        )


# Measured (docs/scheduler.md): on booking models presolve costs most of a stage and weakens the bound of
# the placement tier, while the search without it proves near-optimality quickly. A stage stops once its
# objective is provably within RELATIVE_GAP of the best possible value.
STAGE_PARAMS: dict[str, Any] = {"cp_model_presolve": False, "relative_gap_limit": RELATIVE_GAP}
# Measured (docs/performance.md, 2026-11-27): on job shops with 2 workers, CP-SAT's default portfolio gives
# one worker to a tree search that rarely improves a makespan and shares the other among 13 neighbourhood
# searches; LNS on both workers cut the mean gap at 10 s from 5.7 % to 3.8 % on ta11/15/21/25/28 + la29,
# and from 0.83 % to 0.55 % on la21-la40. The price: no worker proves optimality beyond what presolve and
# the machine-load bound do.
MAKESPAN_LNS_PARAMS: dict[str, Any] = {"use_lns_only": True}


def make_solver(time_limit: float, workers: int, seed: int, **params: Any) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    for key, value in params.items():
        setattr(solver.parameters, key, value)
    return solver


def run_stage(
    sm: ScheduleModel,
    name: str,
    time_limit: float,
    workers: int,
    seed: int,
    progress: Progress | None,
    params: dict[str, Any] | None = None,
) -> tuple[StageResult, cp_model.CpSolver, Any]:
    solver = make_solver(time_limit, workers, seed, **(params or {}))
    began = time.perf_counter()
    callback = _ProgressCallback(name, progress) if progress else None
    status = solver.solve(sm.model, callback)
    has_solution = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    # With a relative gap limit CP-SAT says OPTIMAL once it is close enough; report what was proven.
    proven = status == cp_model.OPTIMAL and abs(solver.objective_value - solver.best_objective_bound) < 0.5
    result = StageResult(
        name,
        "optimal" if proven else _STATUS.get(status, "unknown") if not has_solution else "feasible",
        solver.objective_value + 0.0 if has_solution else None,
        solver.best_objective_bound + 0.0 if has_solution else None,
        time.perf_counter() - began,
    )
    if progress:
        progress(f"[{name}] {result.status}: objective {result.objective}, bound {result.bound}")
    return result, solver, status


def solve(
    problem: Problem,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    progress: Progress | None = None,
    explain: bool = True,
) -> Plan:
    """Plan ``problem`` in about ``time_limit`` seconds of wall time.

    For ``default`` the limit covers everything: model build, hint, the staged solves and explanations
    (which get ``explanation_share`` of it, at most 5 s). For ``makespan`` it is the solver's own limit, as
    in the textbook comparisons.
    """
    began = time.perf_counter()
    sm = build_model(problem)
    build_seconds = time.perf_counter() - began
    if progress:
        proto = sm.model.proto
        progress(
            f"model built in {build_seconds:.2f}s: {len(proto.variables)} variables, "
            f"{len(proto.constraints)} constraints"
        )
    if problem.objective == "makespan":
        assignments, unplaced, stages = _solve_makespan(sm, time_limit, workers, seed, progress)
        explain_budget = 1.0
    else:
        explain_budget = min(5.0, EXPLANATION_SHARE * time_limit) if explain else 0.0
        # A little slack for the last window solve, the KPIs and the JSON that follow the stages.
        left = time_limit - (time.perf_counter() - began) - explain_budget - min(1.0, 0.02 * time_limit)
        assignments, unplaced, stages = solve_staged(sm, max(0.1, left), workers, seed, progress)
        assignments, unplaced = _fill_in(problem, assignments, unplaced, progress)
    return finish_plan(
        problem,
        assignments,
        unplaced,
        stages,
        build_seconds,
        began,
        explain,
        progress,
        explain_budget=explain_budget,
    )


def _fill_in(
    problem: Problem, assignments: list[Assignment], unplaced: list[str], progress: Progress | None
) -> tuple[list[Assignment], list[str]]:
    if not unplaced or not assignments:
        return assignments, unplaced
    filled, still = greedy.fill_in(problem, assignments, unplaced)
    if len(still) == len(unplaced) or check_plan(problem, filled):
        return assignments, unplaced
    if progress:
        progress(f"filled {len(unplaced) - len(still)} unplaced requests into gaps the later tiers opened")
    return filled, still


def finish_plan(
    problem: Problem,
    assignments: Sequence[Assignment],
    unplaced: Sequence[str],
    stages: list[StageResult],
    build_seconds: float,
    began: float,
    explain: bool,
    progress: Progress | None,
    extra_kpis: dict[str, Any] | None = None,
    explain_budget: float = 5.0,
) -> Plan:
    from scheduler.explain import explain_unplaced
    from scheduler.kpis import compute_kpis

    solve_seconds = time.perf_counter() - began
    status = overall_status(stages)
    reasons: dict[str, str] = {}
    if status == "infeasible":
        reasons = {q.id: "the problem has no feasible plan as a whole" for q in problem.requests}
    elif unplaced and explain:
        reasons = explain_unplaced(problem, list(assignments), list(unplaced), budget_seconds=explain_budget)
    explain_seconds = time.perf_counter() - began - solve_seconds
    kpis = compute_kpis(problem, assignments)
    kpis.update(
        {
            "model_build_seconds": round(build_seconds, 3),
            "solve_seconds": round(solve_seconds, 3),
            "explain_seconds": round(explain_seconds, 3),
            "stages": [s.as_dict() for s in stages],
        }
    )
    kpis.update(extra_kpis or {})
    first = stages[0] if stages else None
    return Plan(
        status=status,
        objective=first.objective if first else None,
        bound=first.bound if first else None,
        assignments=tuple(sorted(assignments, key=lambda a: (a.start, a.resource, a.request))),
        unplaced=tuple(Unplaced(q, reasons.get(q, "not placed")) for q in unplaced),
        kpis=kpis,
    )


def overall_status(stages: list[StageResult]) -> str:
    if not stages:
        return "unknown"
    if stages[0].status in ("infeasible", "model_invalid", "unknown"):
        return stages[0].status
    return "optimal" if all(s.status == "optimal" for s in stages) else "feasible"


def _solve_makespan(
    sm: ScheduleModel, time_limit: float, workers: int, seed: int, progress: Progress | None
) -> tuple[list[Assignment], list[str], list[StageResult]]:
    assert sm.makespan is not None
    problem = sm.problem
    calendar_free = all(r.open is None and not r.unavailable for r in problem.resources)
    if calendar_free and not problem.fixed and not problem.pools:
        hint = greedy.dispatch_makespan(problem)
    else:
        hint, _ = greedy.list_schedule(problem)
    sm.set_hint(hint)
    if hint:
        sm.model.add_hint(sm.makespan, max(a.end for a in hint))
    sm.model.minimize(sm.makespan)
    # From a valid plan for every request, the time goes to large neighbourhood search on every worker.
    placed_all = {a.request for a in hint} == {q.id for q in problem.requests}
    params = MAKESPAN_LNS_PARAMS if placed_all and not check_plan(problem, hint) else None
    result, solver, status = run_stage(sm, "makespan", time_limit, workers, seed, progress, params)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [], [q.id for q in problem.requests], [result]
    assignments, unplaced = sm.extract(solver)
    return assignments, unplaced, [result]


def priority_weights(problem: Problem) -> dict[str, int]:
    ordinary = sum(q.weight for q in problem.requests if not q.key_project)
    return {q.id: q.weight * ((ordinary + 1) if q.key_project else 1) for q in problem.requests}


def objective_tiers(sm: ScheduleModel) -> list[tuple[str, cp_model.LinearExprT, bool]]:
    """(name, expression, maximize) per tier of the default objective, skipping tiers that are constant."""
    model, problem = sm.model, sm.problem
    weights = priority_weights(problem)
    rvs = list(sm.requests.values())
    tiers: list[tuple[str, cp_model.LinearExprT, bool]] = [
        ("placed_weight", sum(weights[rv.request.id] * rv.placed for rv in rvs), True)
    ]
    late = [
        (rv.request.weight * (KEY_LATENESS_FACTOR if rv.request.key_project else 1), rv.lateness)
        for rv in rvs
        if rv.lateness is not None
    ]
    if late:
        tiers.append(("lateness", sum(w * v for w, v in late), False))
    orgs: dict[str, list[Any]] = {}
    for rv in rvs:
        orgs.setdefault(rv.request.org, []).append(rv)
    if len(orgs) > 1:
        share = sm.min_share = model.new_int_var(0, 1000, "min_share_permille")
        for members in orgs.values():
            requested = sum(rv.request.total_minutes for rv in members)
            granted = sum(rv.request.total_minutes * rv.placed for rv in members)
            model.add(share * requested <= 1000 * granted)
        tiers.append(("fairness", share, True))
    flows = []
    for rv in rvs:
        flow = model.new_int_var(0, problem.horizon_end - problem.horizon_start, f"flow[{rv.request.id}]")
        model.add(flow >= rv.steps[-1].end - max(rv.request.release, problem.horizon_start)).only_enforce_if(
            rv.placed
        )
        flows.append(flow)
        sm.flows[rv.request.id] = flow
    tiers.append(("compactness", sum(flows), False))
    return tiers


def _polish_stage(
    sm: ScheduleModel,
    assignments: list[Assignment],
    budget: float,
    workers: int,
    seed: int,
    progress: Progress | None,
    name: str,
) -> tuple[StageResult, list[Assignment]]:
    from scheduler.polish import flow_time, polish_lateness, weighted_lateness

    def measure(plan: list[Assignment]) -> int:
        if name == "lateness":
            return weighted_lateness(sm.problem, plan, KEY_LATENESS_FACTOR)
        return flow_time(sm.problem, plan)

    began = time.perf_counter()
    before = measure(assignments)
    aim = "lateness" if name == "lateness" else "flow"
    polished = polish_lateness(
        sm.problem, assignments, began + budget, KEY_LATENESS_FACTOR, workers, seed, aim=aim
    )
    after = measure(polished)
    if progress:
        progress(f"[{name}] rolling-window re-solves: {before} -> {after}")
    return StageResult(name, "feasible", float(after), None, time.perf_counter() - began), polished


def solve_staged(
    sm: ScheduleModel,
    time_limit: float,
    workers: int,
    seed: int,
    progress: Progress | None,
    tiers: list[tuple[str, cp_model.LinearExprT, bool]] | None = None,
    hint: list[Assignment] | None = None,
    polish: bool = True,
) -> tuple[list[Assignment], list[str], list[StageResult]]:
    """Optimize ``tiers`` one after the other, each fixed at its best value before the next."""
    deadline = time.perf_counter() + time_limit
    tiers = tiers if tiers is not None else objective_tiers(sm)
    if hint is None:
        hint, _ = greedy.list_schedule(sm.problem)
    assignments: list[Assignment] = list(hint)
    unplaced: list[str] = []
    stages: list[StageResult] = []
    large = polish and len(sm.problem.requests) >= POLISH_MIN_REQUESTS
    table = STAGE_SHARES_LARGE if large else STAGE_SHARES
    shares = [table.get(name, 0.2) for name, _, _ in tiers]
    sm.set_hint(assignments)
    for k, (name, expr, maximize) in enumerate(tiers):
        remaining = deadline - time.perf_counter()
        budget = remaining * shares[k] / sum(shares[k:])
        if name in ("lateness", "compactness") and large and stages:
            result, assignments = _polish_stage(sm, assignments, budget, workers, seed, progress, name)
            stages.append(result)
            sm.set_hint(assignments)
            assert result.objective is not None
            sm.model.add(expr <= round(result.objective))
            continue
        if maximize:
            sm.model.maximize(expr)
        else:
            sm.model.minimize(expr)
        result, solver, status = run_stage(sm, name, budget, workers, seed, progress, STAGE_PARAMS)
        stages.append(result)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if k == 0:
                break
            continue  # keep the previous stage's plan and hint, try the next tier
        assignments, unplaced = sm.extract(solver)
        # The whole solution, auxiliary variables included, so the next stage starts from a feasible plan.
        sm.hint_values(list(solver.response_proto.solution))
        if not isinstance(expr, int):
            value = round(solver.objective_value)
            sm.model.add(expr >= value if maximize else expr <= value)
    if not stages or stages[0].objective is None:
        return _fallback(sm, hint, stages)
    return assignments, unplaced, stages


def _fallback(
    sm: ScheduleModel, hint: list[Assignment], stages: list[StageResult]
) -> tuple[list[Assignment], list[str], list[StageResult]]:
    """No solver plan in time: return the dispatching rule's plan when it keeps every rule."""
    everyone = [rv.request.id for rv in sm.requests.values()]
    infeasible = bool(stages) and stages[0].status == "infeasible"
    if infeasible or not hint or check_plan(sm.problem, hint):
        return [], everyone, stages
    placed = {a.request for a in hint}
    weights = priority_weights(sm.problem)
    rule = StageResult(
        "placed_weight (dispatching rule)", "feasible", float(sum(weights[q] for q in placed)), None, 0.0
    )
    return list(hint), [q for q in everyone if q not in placed], [rule, *stages]
