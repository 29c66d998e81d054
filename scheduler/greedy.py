"""Dispatching rules: a feasible plan without a solver.

Used three ways: as the complete hint CP-SAT starts from, as the first-come-first-served baseline the
workload benchmark compares against, and (``earliest_slot``) to tell a person when an unplaced request could
start after all.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from scheduler.model import outside_blocks, start_windows
from scheduler.problem import Assignment, Budget, Pool, Problem, Request, Step, Window


@dataclass
class _Booking:
    start: int
    end: int
    klass: tuple[str, str | None]
    pool_demand: dict[str, int]


@dataclass
class Timeline:
    """Bookings per resource, kept sorted by start, with the checks a new booking must pass."""

    problem: Problem
    bookings: dict[str, list[_Booking]] = field(default_factory=lambda: defaultdict(list))
    _starts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _windows: dict[tuple[str, int, int, int, tuple[str, str | None]], list[Window]] = field(
        default_factory=dict
    )
    _pools_of: dict[str, list[str]] = field(default_factory=dict)
    _longest: int = 0
    _budget_used: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self) -> None:
        for pool in self.problem.pools:
            for rid in pool.members:
                self._pools_of.setdefault(rid, []).append(pool.id)
        for f in self.problem.fixed:
            req = self.problem._request_index.get(f.request)
            if req is None:
                # On capacity-1 resources the start windows already avoid it; pools still count it.
                self.add(f.resource, f.start, f.end, (f.org or "", f.material_class), dict(f.pool_demand))
                continue
            step = next((s for s in req.steps if s.id == f.step), None)
            demand = dict(step.pool_demand) if step else {}
            self.add(f.resource, f.start, f.end, (req.org, req.material_class), demand)
            if f.step == req.steps[0].id:
                self._spend(req, f.start)

    def add(self, rid: str, start: int, end: int, klass: tuple[str, str | None], pd: dict[str, int]) -> None:
        i = bisect.bisect_left(self._starts[rid], start)
        self._starts[rid].insert(i, start)
        self.bookings[rid].insert(i, _Booking(start, end, klass, pd))
        self._longest = max(self._longest, end - start)

    def add_assignment(self, q: Request, a: Assignment) -> None:
        """Book one step of a plan (its request's budget is charged with the first step)."""
        step = next(s for s in q.steps if s.id == a.step)
        self.add(a.resource, a.start, a.end, (q.org, q.material_class), dict(step.pool_demand))
        if step is q.steps[0]:
            self._spend(q, a.start)

    def _budgets_of(self, q: Request, first_start: int) -> list[Budget]:
        return [b for b in self.problem.budgets if b.counts(q, first_start)]

    def _spend(self, q: Request, first_start: int) -> None:
        for b in self._budgets_of(q, first_start):
            self._budget_used[b.id] += q.total_minutes

    def _over_budget(self, q: Request, first_start: int) -> Budget | None:
        """The first budget this request would overrun when its first step starts then."""
        return next(
            (
                b
                for b in self._budgets_of(q, first_start)
                if self._budget_used[b.id] + q.total_minutes > b.minutes
            ),
            None,
        )

    def budget_left(self, budget: Budget) -> int:
        return budget.minutes - self._budget_used[budget.id]

    def _overlapping(self, rid: str, start: int, end: int, pad: int) -> Iterable[_Booking]:
        books, starts = self.bookings[rid], self._starts[rid]
        i = bisect.bisect_left(starts, end + pad)
        while i > 0:
            i -= 1
            b = books[i]
            if b.start + self._longest + pad < start:
                break
            if b.end + pad > start and b.start < end + pad:
                yield b

    def fits(self, rid: str, start: int, size: int, klass: tuple[str, str | None], step: Step) -> bool:
        resource = self.problem.resource(rid)
        end = start + size
        gap = resource.changeover_minutes
        if resource.capacity == 1:
            for b in self._overlapping(rid, start, end, gap):
                if b.klass != klass or (b.end > start and b.start < end):
                    return False
        elif sum(1 for b in self._overlapping(rid, start, end, 0)) >= resource.capacity:
            return False
        for pid in self._pools_of.get(rid, []):
            pool = self._pool(pid)
            demand = dict(step.pool_demand).get(pid, pool.demand)
            used = sum(
                b.pool_demand.get(pid, pool.demand)
                for member in pool.members
                for b in self._overlapping(member, start, end, 0)
            )
            if used + demand > pool.capacity:
                return False
        return True

    def windows(self, q: Request, rid: str, size: int, earliest: int, latest_end: int) -> list[Window]:
        key = (rid, size, earliest, latest_end, (q.org, q.material_class))
        if key not in self._windows:
            resource = self.problem.resource(rid)
            blocks = outside_blocks(self.problem, resource, q.org, q.material_class)
            self._windows[key] = start_windows(self.problem, resource, size, earliest, latest_end, blocks)
        return self._windows[key]

    def earliest_start(self, q: Request, step: Step, rid: str, earliest: int, latest_end: int) -> int | None:
        resource = self.problem.resource(rid)
        size = step.duration + resource.setup_minutes
        klass = (q.org, q.material_class)
        ranges = self.windows(q, rid, size, self.problem.horizon_start, latest_end)
        candidates = {max(lo, earliest) for lo, hi in ranges if hi >= earliest}
        gap = resource.changeover_minutes
        for member in [rid] + [m for p in self._pools_of.get(rid, []) for m in self._pool(p).members]:
            i = bisect.bisect_left(self._starts[member], earliest - self._longest - gap)
            for b in self.bookings[member][i:]:
                if b.end >= earliest:
                    candidates.add(b.end)
                    candidates.add(b.end + gap)
        los = [lo for lo, _ in ranges]
        for t in sorted(candidates):
            k = bisect.bisect_right(los, t) - 1
            if k < 0 or t > ranges[k][1]:
                continue
            if self.fits(rid, t, size, klass, step):
                return t
        return None

    def _pool(self, pid: str) -> Pool:
        return next(p for p in self.problem.pools if p.id == pid)

    def place_request(self, q: Request, not_before: int | None = None) -> list[Assignment] | None:
        """Earliest placement of all steps of ``q`` on this timeline (booked), or None when none fits."""
        latest_end = min(self.problem.horizon_end, q.deadline or self.problem.horizon_end)
        first = max(q.release, self.problem.horizon_start, not_before or self.problem.horizon_start)
        for _ in range(20):
            chain = self._chain(q, first, latest_end)
            if chain is None:
                return None
            plan, retry_from = chain
            spent = self._over_budget(q, plan[0].start) if retry_from is None else None
            if spent is not None:
                retry_from = spent.end  # this budget is used up: try where another one counts
            if retry_from is None:
                for a in plan:
                    self.add_assignment(q, a)
                return plan
            first = max(first + 1, retry_from)
        return None

    def _chain(self, q: Request, first: int, latest_end: int) -> tuple[list[Assignment], int | None] | None:
        plan: list[Assignment] = []
        ready = first
        for step in q.steps:
            best: tuple[int, int, str] | None = None
            for rid in step.resources:
                start = self.earliest_start(q, step, rid, ready, latest_end)
                if start is None:
                    continue
                end = start + step.duration + self.problem.resource(rid).setup_minutes
                if best is None or (end, start) < (best[1], best[0]):
                    best = (start, end, rid)
            if best is None:
                return None
            start, end, rid = best
            if plan and step.max_gap is not None and start > plan[-1].end + step.max_gap:
                # Too long a wait: start the whole chain so much later that this step is in reach.
                return plan, first + (start - plan[-1].end - step.max_gap)
            plan.append(Assignment(q.id, step.id, rid, start, end))
            ready = end
            nxt = q.steps.index(step) + 1
            if nxt < len(q.steps):
                ready += q.steps[nxt].min_gap or 0
        return plan, None


def priority_order(problem: Problem) -> list[Request]:
    """Key projects first, then heavier; among equals, organizations take turns (each one's earliest-due
    request, then each one's second, ...), then earlier due, then earlier release.

    Taking turns is the fairness rule of the plan's starting point: at scale the solver keeps most of this
    plan, and an order by due date alone lets one organization with many early requests fill the contested
    hours before anyone else's first request is looked at."""
    horizon = problem.horizon_end

    def due(q: Request) -> int:
        return q.due if q.due is not None else horizon

    turn: dict[str, int] = {}
    rounds: dict[tuple[bool, int, str], int] = defaultdict(int)
    for q in sorted(problem.requests, key=lambda q: (not q.key_project, -q.weight, due(q), q.release)):
        klass = (q.key_project, q.weight, q.org)
        turn[q.id] = rounds[klass]
        rounds[klass] += 1
    return sorted(
        problem.requests,
        key=lambda q: (not q.key_project, -q.weight, turn[q.id], due(q), q.release),
    )


def list_schedule(problem: Problem, order: list[Request] | None = None) -> tuple[list[Assignment], list[str]]:
    """Place requests one by one in ``order`` (default: priority order) at their earliest fit."""
    timeline = Timeline(problem)
    assignments: list[Assignment] = []
    unplaced: list[str] = []
    pinned = {f.request for f in problem.fixed}
    requests = order if order is not None else priority_order(problem)
    # Requests with pinned steps go first: pinned steps where they are, the steps after them right behind.
    for q in problem.requests:
        if q.id in pinned:
            assignments.extend(_place_after_pins(problem, timeline, q))
    for q in requests:
        if q.id in pinned:
            continue
        placed = timeline.place_request(q)
        if placed is None:
            unplaced.append(q.id)
        else:
            assignments.extend(placed)
    return assignments, unplaced


def _place_after_pins(problem: Problem, timeline: Timeline, q: Request) -> list[Assignment]:
    pins = {f.step: f for f in problem.fixed if f.request == q.id}
    out = [Assignment(q.id, f.step, f.resource, f.start, f.end) for f in pins.values()]
    last = max(k for k, s in enumerate(q.steps) if s.id in pins)
    rest = q.steps[last + 1 :]
    if rest:
        ready = pins[q.steps[last].id].end + (rest[0].min_gap or 0)
        tail = dataclasses.replace(q, steps=(dataclasses.replace(rest[0], min_gap=None), *rest[1:]))
        placed = timeline.place_request(tail, not_before=ready)
        out.extend(placed or [])
    return out


def dispatch_makespan(problem: Problem) -> list[Assignment]:
    """Operation-level dispatching (best of a few rules) for calendar-free makespan problems."""
    best: list[Assignment] = []
    best_span: int | None = None
    for rule in ("mwkr", "est", "spt"):
        plan = _dispatch(problem, rule)
        span = max((a.end for a in plan), default=0)
        if best_span is None or span < best_span:
            best, best_span = plan, span
    return best


def _dispatch(problem: Problem, rule: str) -> list[Assignment]:
    machine_free: dict[str, int] = defaultdict(lambda: problem.horizon_start)
    nxt = {q.id: 0 for q in problem.requests}
    ready = {q.id: max(q.release, problem.horizon_start) for q in problem.requests}
    remaining = {q.id: q.total_minutes for q in problem.requests}
    plan: list[Assignment] = []
    active = [q for q in problem.requests if q.steps]
    while active:
        options = []
        for q in active:
            step = q.steps[nxt[q.id]]
            gap = step.min_gap or 0
            start, end, rid = min(
                (
                    max(ready[q.id] + gap, machine_free[r]),
                    max(ready[q.id] + gap, machine_free[r])
                    + step.duration
                    + problem.resource(r).setup_minutes,
                    r,
                )
                for r in step.resources
            )
            if rule == "mwkr":
                key: tuple[int, ...] = (start, -remaining[q.id])
            elif rule == "spt":
                key = (start, step.duration)
            else:
                key = (end, -remaining[q.id])
            options.append((key, q, step, start, end, rid))
        _, q, step, start, end, rid = min(options, key=lambda o: o[0])
        plan.append(Assignment(q.id, step.id, rid, start, end))
        machine_free[rid] = end
        ready[q.id] = end
        remaining[q.id] -= step.duration
        nxt[q.id] += 1
        if nxt[q.id] == len(q.steps):
            active.remove(q)
    return plan


def fill_in(
    problem: Problem, assignments: list[Assignment], unplaced: list[str]
) -> tuple[list[Assignment], list[str]]:
    """Insert unplaced requests (priority order) wherever they fit between the plan's bookings.

    Later tiers move bookings around and can open gaps after the placement tier has finished; a request that
    now fits raises the placed weight without moving anyone.
    """
    timeline = Timeline(dataclasses.replace(problem, fixed=tuple(problem.outside_fixed_all())))
    for a in assignments:
        timeline.add_assignment(problem.request(a.request), a)
    waiting = set(unplaced)
    added: list[Assignment] = []
    for q in priority_order(problem):
        if q.id in waiting and not any(f.request == q.id for f in problem.fixed):
            placed = timeline.place_request(q)
            if placed:
                added.extend(placed)
                waiting.discard(q.id)
    return assignments + added, [qid for qid in unplaced if qid in waiting]
