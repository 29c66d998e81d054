"""Independent check of a plan against every rule of its problem (used by tests; the backend may use it
before it turns a plan into bookings)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise

from scheduler.problem import Assignment, Problem


def check_plan(problem: Problem, assignments: Sequence[Assignment]) -> list[str]:
    """Every broken rule, as a sentence; empty when the plan is valid."""
    errors: list[str] = []
    by_request: dict[str, dict[str, Assignment]] = defaultdict(dict)
    for a in assignments:
        by_request[a.request][a.step] = a
    for qid, steps in by_request.items():
        errors += _request_errors(problem, qid, steps)
    errors += _resource_errors(problem, assignments)
    errors += _pool_errors(problem, assignments)
    errors += budget_errors(problem, assignments)
    for f in problem.fixed:
        got = by_request.get(f.request, {}).get(f.step)
        if f.request in problem._request_index and (
            got is None or (got.resource, got.start) != (f.resource, f.start)
        ):
            errors.append(f"{f.request}/{f.step}: fixed at {f.resource} {f.start} but planned as {got}")
    return errors


def _request_errors(problem: Problem, qid: str, steps: dict[str, Assignment]) -> list[str]:
    if qid not in problem._request_index:
        return [f"{qid}: not a request of the problem"]
    q = problem.request(qid)
    errors: list[str] = []
    if set(steps) != {s.id for s in q.steps}:
        return [f"{qid}: only some steps planned ({sorted(steps)})"]
    pinned = {(f.request, f.step) for f in problem.fixed}
    prev: Assignment | None = None
    for step in q.steps:
        a = steps[step.id]
        where = f"{qid}/{step.id}"
        if a.resource not in step.resources:
            errors.append(f"{where}: {a.resource} is not a candidate")
            continue
        resource = problem.resource(a.resource)
        if a.end - a.start != step.duration + resource.setup_minutes:
            errors.append(
                f"{where}: lasts {a.end - a.start} min, not {step.duration + resource.setup_minutes}"
            )
        if (qid, step.id) not in pinned:
            if a.start < max(q.release, problem.horizon_start) or a.end > problem.horizon_end:
                errors.append(f"{where}: outside release/horizon")
            if q.deadline is not None and a.end > q.deadline:
                errors.append(f"{where}: ends after the deadline")
            if resource.open is not None:
                ok = any(s <= a.start < e and (resource.unattended or a.end <= e) for s, e in resource.open)
                if ok and resource.unattended and resource.unattended_ends_open:
                    ok = any(s < a.end <= e for s, e in resource.open)
                if not ok:
                    errors.append(f"{where}: not within opening hours of {a.resource}")
            for s, e in resource.unavailable:
                if a.start < e and a.end > s:
                    errors.append(f"{where}: overlaps unavailability {s}-{e} of {a.resource}")
        if prev is not None:
            gap = a.start - prev.end
            if gap < (step.min_gap or 0):
                errors.append(f"{where}: starts {gap} min after the previous step")
            if step.max_gap is not None and gap > step.max_gap:
                errors.append(f"{where}: waits {gap} min, more than {step.max_gap}")
        prev = a
    return errors


def _bookings(
    problem: Problem, assignments: Sequence[Assignment]
) -> list[tuple[str, int, int, tuple[str, str | None], str]]:
    """(resource, start, end, class, request) for the plan plus outside fixed bookings."""
    out = []
    for a in assignments:
        q = problem._request_index.get(a.request)
        klass = (q.org, q.material_class) if q else ("", None)
        out.append((a.resource, a.start, a.end, klass, a.request))
    for f in problem.fixed:
        if f.request not in problem._request_index:
            out.append((f.resource, f.start, f.end, (f.org or "", f.material_class), f.request))
    return out


def _peak(intervals: list[tuple[int, int, int]]) -> int:
    events = sorted([(s, d) for s, _, d in intervals] + [(e, -d) for _, e, d in intervals])
    level = peak = 0
    for _, d in events:
        level += d
        peak = max(peak, level)
    return peak


def _resource_errors(problem: Problem, assignments: Sequence[Assignment]) -> list[str]:
    errors: list[str] = []
    per: dict[str, list[tuple[int, int, tuple[str, str | None], str]]] = defaultdict(list)
    for rid, s, e, klass, qid in _bookings(problem, assignments):
        per[rid].append((s, e, klass, qid))
    for rid, books in per.items():
        resource = problem.resource(rid)
        if _peak([(s, e, 1) for s, e, _, _ in books]) > resource.capacity:
            errors.append(f"{rid}: more than {resource.capacity} bookings at once")
        if resource.capacity == 1 and resource.changeover_minutes:
            for a, b in pairwise(sorted(books)):
                if a[2] != b[2] and b[0] < a[1] + resource.changeover_minutes:
                    errors.append(f"{rid}: no changeover between {a[3]} and {b[3]}")
    return errors


def _pool_errors(problem: Problem, assignments: Sequence[Assignment]) -> list[str]:
    errors: list[str] = []
    steps = {(q.id, s.id): s for q in problem.requests for s in q.steps}
    for pool in problem.pools:
        use = []
        for a in assignments:
            step = steps.get((a.request, a.step))
            if a.resource in pool.members and step is not None:
                use.append((a.start, a.end, dict(step.pool_demand).get(pool.id, pool.demand)))
        for f in problem.fixed:
            if f.resource in pool.members and f.request not in problem._request_index:
                use.append((f.start, f.end, dict(f.pool_demand).get(pool.id, pool.demand)))
        if _peak(use) > pool.capacity:
            errors.append(f"pool {pool.id}: more than {pool.capacity} units in use at once")
    return errors


def budget_use(problem: Problem, assignments: Sequence[Assignment]) -> dict[str, int]:
    """Minutes of work each budget holds in the plan (requests counted by their first step's start)."""
    if not problem.budgets:
        return {}
    firsts: dict[str, int] = {}
    for a in assignments:
        q = problem._request_index.get(a.request)
        if q is not None and a.step == q.steps[0].id:
            firsts[a.request] = a.start
    use = dict.fromkeys((b.id for b in problem.budgets), 0)
    for qid, start in firsts.items():
        q = problem.request(qid)
        for b in problem.budgets:
            if b.counts(q, start):
                use[b.id] += q.total_minutes
    return use


def budget_errors(problem: Problem, assignments: Sequence[Assignment]) -> list[str]:
    budgets = {b.id: b for b in problem.budgets}
    return [
        f"budget {bid} of {budgets[bid].org}: {used} min planned, {budgets[bid].minutes} allowed"
        for bid, used in budget_use(problem, assignments).items()
        if used > budgets[bid].minutes
    ]
