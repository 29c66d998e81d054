"""Build the CP-SAT model of a problem: variables and constraints only; objectives are set in solve.py.

Encoding, per the OR-Tools flexible job-shop recipe:
- one presence literal per request (``placed``); each step is on exactly one candidate resource when the
  request is placed (``add_exactly_one([not placed, candidate_1, ...])``);
- one optional fixed-size interval per candidate, with its own start variable whose *domain* already leaves
  out every start that would cross a closed period, a maintenance window or an outside fixed booking, so the
  calendar is exact and costs no constraint; unattended resources only need to *start* in open hours;
- ``add_no_overlap`` per capacity-1 resource, ``add_cumulative`` per larger resource and per shared pool;
- changeovers as pairwise disjunctions between bookings of different classes (exact for a constant
  changeover time, which satisfies the triangle inequality).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduler.problem import Assignment, Fixed, Problem, Request, Resource, Step, Window

Literal = cp_model.IntVar | cp_model.NotBooleanVariable | int


@dataclass(eq=False)
class Choice:
    resource: str
    step: Step
    present: cp_model.IntVar
    start: cp_model.IntVar
    size: int
    interval: cp_model.IntervalVar
    ranges: list[Window]  # inclusive ranges of possible starts

    @property
    def lo(self) -> int:
        return self.ranges[0][0]

    @property
    def hi(self) -> int:
        return self.ranges[-1][1]

    def can_start(self, t: int) -> bool:
        return any(lo <= t <= hi for lo, hi in self.ranges)


@dataclass(eq=False)
class StepVars:
    step: Step
    start: cp_model.IntVar
    end: cp_model.IntVar
    choices: list[Choice]


@dataclass(eq=False)
class RequestVars:
    request: Request
    placed: cp_model.IntVar
    steps: list[StepVars]
    lateness: cp_model.IntVar | None = None


@dataclass(eq=False)
class Ordering:
    """Literal true when booking ``a`` comes before booking ``b`` on a changeover resource."""

    before: cp_model.IntVar
    a: Choice
    b: Choice


@dataclass(eq=False)
class ScheduleModel:
    problem: Problem
    model: cp_model.CpModel
    requests: dict[str, RequestVars]
    orderings: list[Ordering] = field(default_factory=list)
    makespan: cp_model.IntVar | None = None
    # Objective helpers (solve.objective_tiers), kept so a hint can set them too.
    flows: dict[str, cp_model.IntVar] = field(default_factory=dict)
    min_share: cp_model.IntVar | None = None

    def set_hint(self, assignments: list[Assignment] | tuple[Assignment, ...]) -> None:
        """Hint every decision variable from a plan (requests missing from it are hinted unplaced)."""
        self.model.clear_hints()  # type: ignore[no-untyped-call]
        by_step = {(a.request, a.step): a for a in assignments}
        chosen: dict[int, int] = {}
        for rv in self.requests.values():
            placed = all((rv.request.id, s.step.id) in by_step for s in rv.steps)
            self.model.add_hint(rv.placed, placed)
            last_end = 0
            for sv in rv.steps:
                a = by_step.get((rv.request.id, sv.step.id)) if placed else None
                start = a.start if a else min((c.lo for c in sv.choices), default=0)
                self.model.add_hint(sv.start, start)
                for c in sv.choices:
                    on = a is not None and a.resource == c.resource
                    self.model.add_hint(c.present, on)
                    self.model.add_hint(c.start, start if on else c.lo)
                    if on:
                        chosen[c.start.index] = start
                end = a.end if a else start + (sv.choices[0].size if sv.choices else 0)
                self.model.add_hint(sv.end, end)
                last_end = end
            if rv.lateness is not None and rv.request.due is not None:
                self.model.add_hint(rv.lateness, max(0, last_end - rv.request.due) if placed else 0)
        for o in self.orderings:
            sa, sb = chosen.get(o.a.start.index), chosen.get(o.b.start.index)
            self.model.add_hint(o.before, sa is not None and sb is not None and sa <= sb)
        self._hint_objective_helpers(by_step)

    def _hint_objective_helpers(self, by_step: dict[tuple[str, str], Assignment]) -> None:
        requested: dict[str, int] = defaultdict(int)
        granted: dict[str, int] = defaultdict(int)
        for rv in self.requests.values():
            q = rv.request
            ends = [by_step[(q.id, s.id)].end for s in q.steps if (q.id, s.id) in by_step]
            placed = len(ends) == len(q.steps)
            requested[q.org] += q.total_minutes
            granted[q.org] += q.total_minutes if placed else 0
            if q.id in self.flows:
                flow = max(ends) - max(q.release, self.problem.horizon_start) if placed else 0
                self.model.add_hint(self.flows[q.id], max(0, flow))
        if self.min_share is not None:
            shares = [1000 * granted[o] // requested[o] for o in requested if requested[o]]
            self.model.add_hint(self.min_share, min(shares, default=1000))

    def hint_values(self, values: list[int]) -> None:
        """A complete hint: one value per model variable, e.g. the previous stage's solution."""
        self.model.clear_hints()  # type: ignore[no-untyped-call]
        hint = self.model.proto.solution_hint
        hint.vars.extend(range(len(values)))
        hint.values.extend(values)

    def extract(self, solver: cp_model.CpSolver) -> tuple[list[Assignment], list[str]]:
        """The assignments of a solved model and the ids of the requests it left out."""
        assignments: list[Assignment] = []
        unplaced: list[str] = []
        for rv in self.requests.values():
            if not solver.boolean_value(rv.placed):
                unplaced.append(rv.request.id)
                continue
            for sv in rv.steps:
                for c in sv.choices:
                    if solver.boolean_value(c.present):
                        start = solver.value(c.start)
                        assignments.append(
                            Assignment(rv.request.id, sv.step.id, c.resource, start, start + c.size)
                        )
        return assignments, unplaced


# ---------------------------------------------------------------------------------------------------------
# Calendars: where a booking of a given length may start


def _subtract(windows: list[Window], holes: list[Window]) -> list[Window]:
    out: list[Window] = []
    for ws, we in windows:
        pieces = [(ws, we)]
        for hs, he in holes:
            nxt: list[Window] = []
            for ps, pe in pieces:
                if he <= ps or hs >= pe:
                    nxt.append((ps, pe))
                    continue
                if ps < hs:
                    nxt.append((ps, hs))
                if he < pe:
                    nxt.append((he, pe))
            pieces = nxt
        out.extend(pieces)
    return out


def outside_blocks(problem: Problem, resource: Resource, org: str, material: str | None) -> list[Window]:
    """Maintenance and outside fixed bookings that a booking of this class must keep clear of."""
    blocks = list(resource.unavailable)
    if resource.capacity == 1:
        for f in problem.outside_fixed(resource.id):
            differs = (f.org or "", f.material_class) != (org, material)
            gap = resource.changeover_minutes if differs else 0
            blocks.append((f.start - gap, f.end + gap))
    return blocks


def start_windows(
    problem: Problem,
    resource: Resource,
    size: int,
    earliest: int,
    latest_end: int,
    blocks: list[Window],
) -> list[Window]:
    """Inclusive [lo, hi] ranges of start times for a booking of ``size`` minutes on ``resource``."""
    if resource.open is None:
        periods: list[Window] = [(earliest, latest_end)]
    else:
        periods = [(max(s, earliest), min(e, latest_end)) for s, e in resource.open]
        periods = [(s, e) for s, e in periods if s < e]
    out: list[Window] = []
    if resource.unattended and resource.open is not None:
        # Someone must load the run in open hours; it may then run through closed hours.
        for s, e in periods:
            out.extend(_free_starts([(s, min(e - 1 + size, latest_end))], blocks, size, start_cap=e - 1))
        if resource.unattended_ends_open:
            # ... and, where asked, be there to unload it: the end falls in (s, e] of an open period.
            out = _intersect(_merge(out), _merge([(s - size + 1, e - size) for s, e in resource.open]))
    else:
        out.extend(_free_starts(periods, blocks, size))
    return _merge(out)


def _free_starts(
    periods: list[Window], blocks: list[Window], size: int, start_cap: int | None = None
) -> list[Window]:
    out: list[Window] = []
    for s, e in _subtract(periods, sorted(blocks)):
        hi = e - size
        if start_cap is not None:
            hi = min(hi, start_cap)
        if hi >= s:
            out.append((s, hi))
    return out


def _intersect(a: list[Window], b: list[Window]) -> list[Window]:
    """Intersection of two sorted, merged lists of inclusive ranges."""
    out: list[Window] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _merge(ranges: list[Window]) -> list[Window]:
    ranges.sort()
    merged: list[Window] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _domain(ranges: list[Window]) -> cp_model.Domain:
    return cp_model.Domain.from_flat_intervals([v for r in ranges for v in r])


# ---------------------------------------------------------------------------------------------------------
# Building


def build_model(problem: Problem, not_before: int | None = None) -> ScheduleModel:
    """The CP-SAT model of ``problem``; ``not_before`` (repair) forbids unpinned starts before that time."""
    model = cp_model.CpModel()
    pins = {(f.request, f.step): f for f in problem.fixed}
    sm = ScheduleModel(problem, model, {})
    for q in problem.requests:
        sm.requests[q.id] = _request_vars(sm, q, pins, not_before)
    _resource_constraints(sm)
    _pool_constraints(sm)
    _budget_constraints(sm)
    if problem.objective == "makespan":
        _makespan(sm)
    return sm


def _request_vars(
    sm: ScheduleModel, q: Request, pins: dict[tuple[str, str], Fixed], not_before: int | None
) -> RequestVars:
    problem, model = sm.problem, sm.model
    h_end = problem.horizon_end
    latest_end = min(h_end, q.deadline) if q.deadline is not None else h_end
    earliest = max(q.release, problem.horizon_start)
    if not_before is not None:
        earliest = max(earliest, not_before)
    placed = model.new_bool_var(f"placed[{q.id}]")
    if problem.objective == "makespan" or any((q.id, s.id) in pins for s in q.steps):
        model.add(placed == 1)
    steps: list[StepVars] = []
    # Steps before this one need at least this much time, so no step starts before its chain allows.
    lead = 0
    tail = q.total_minutes
    for step in q.steps:
        tail -= step.duration
        pin = pins.get((q.id, step.id))
        choices = _choices(sm, q, step, pin, earliest + lead, latest_end - tail)
        lo = min((c.lo for c in choices), default=earliest)
        hi = max((c.hi for c in choices), default=earliest)
        max_size = max((c.size for c in choices), default=step.duration)
        start = model.new_int_var(lo, hi, f"S[{q.id},{step.id}]")
        end = model.new_int_var(lo, hi + max_size, f"E[{q.id},{step.id}]")
        for c in choices:
            model.add(start == c.start).only_enforce_if(c.present)
            model.add(end == c.start + c.size).only_enforce_if(c.present)
        model.add_exactly_one([~placed, *[c.present for c in choices]])
        if steps:
            prev = steps[-1]
            model.add(start >= prev.end + (step.min_gap or 0)).only_enforce_if(placed)
            if step.max_gap is not None:
                model.add(start <= prev.end + step.max_gap).only_enforce_if(placed)
        steps.append(StepVars(step, start, end, choices))
        lead += step.duration
    rv = RequestVars(q, placed, steps)
    if q.due is not None and problem.objective == "default":
        rv.lateness = model.new_int_var(0, max(0, h_end - q.due), f"late[{q.id}]")
        model.add(rv.lateness >= steps[-1].end - q.due).only_enforce_if(placed)
    return rv


def _choices(
    sm: ScheduleModel, q: Request, step: Step, pin: Fixed | None, earliest: int, latest_end: int
) -> list[Choice]:
    problem, model = sm.problem, sm.model
    out: list[Choice] = []
    for rid in step.resources:
        resource = problem.resource(rid)
        size = step.duration + resource.setup_minutes
        if pin is not None:
            if pin.resource != rid:
                continue
            ranges = [(pin.start, pin.start)]
        else:
            blocks = outside_blocks(problem, resource, q.org, q.material_class)
            ranges = start_windows(problem, resource, size, earliest, latest_end, blocks)
        if not ranges:
            continue
        name = f"{q.id},{step.id},{rid}"
        present = model.new_bool_var(f"on[{name}]")
        start = model.new_int_var_from_domain(_domain(ranges), f"s[{name}]")
        interval = model.new_optional_fixed_size_interval_var(start, size, present, f"i[{name}]")
        out.append(Choice(rid, step, present, start, size, interval, ranges))
    return out


def _bookings_by_resource(sm: ScheduleModel) -> dict[str, list[tuple[RequestVars, Choice]]]:
    by_resource: dict[str, list[tuple[RequestVars, Choice]]] = defaultdict(list)
    for rv in sm.requests.values():
        for sv in rv.steps:
            for c in sv.choices:
                by_resource[c.resource].append((rv, c))
    return by_resource


def _resource_constraints(sm: ScheduleModel) -> None:
    problem, model = sm.problem, sm.model
    by_resource = _bookings_by_resource(sm)
    known = {q.id for q in problem.requests}
    for resource in problem.resources:
        bookings = by_resource.get(resource.id, [])
        intervals = [c.interval for _, c in bookings]
        if resource.capacity == 1:
            if len(intervals) > 1:
                model.add_no_overlap(intervals)
            if resource.changeover_minutes > 0:
                _changeovers(sm, resource, bookings)
            continue
        demands = [1] * len(intervals)
        for f in problem.fixed:
            if f.resource == resource.id and f.request not in known:
                intervals.append(model.new_fixed_size_interval_var(f.start, f.end - f.start, "fixed"))
                demands.append(1)
        if sum(demands) > resource.capacity:
            model.add_cumulative(intervals, demands, resource.capacity)


def _changeovers(sm: ScheduleModel, resource: Resource, bookings: list[tuple[RequestVars, Choice]]) -> None:
    model, gap = sm.model, resource.changeover_minutes
    for i, (rv_a, a) in enumerate(bookings):
        class_a = (rv_a.request.org, rv_a.request.material_class)
        a_lo, a_hi = a.lo, a.hi + a.size
        for rv_b, b in bookings[i + 1 :]:
            if rv_b is rv_a or (rv_b.request.org, rv_b.request.material_class) == class_a:
                continue
            b_lo, b_hi = b.lo, b.hi + b.size
            if b_lo >= a_hi + gap or a_lo >= b_hi + gap:
                continue  # can never come within a changeover of each other
            before = model.new_bool_var("")
            model.add(a.start + a.size + gap <= b.start).only_enforce_if(before, a.present, b.present)
            model.add(b.start + b.size + gap <= a.start).only_enforce_if(~before, a.present, b.present)
            sm.orderings.append(Ordering(before, a, b))


def _pool_constraints(sm: ScheduleModel) -> None:
    problem, model = sm.problem, sm.model
    by_resource = _bookings_by_resource(sm)
    for pool in problem.pools:
        intervals: list[cp_model.IntervalVar] = []
        demands: list[int] = []
        for rid in pool.members:
            for _, c in by_resource.get(rid, []):
                demand = dict(c.step.pool_demand).get(pool.id, pool.demand)
                if demand > 0:
                    intervals.append(c.interval)
                    demands.append(demand)
        known = {q.id for q in problem.requests}
        for f in problem.fixed:
            if f.resource in pool.members and f.request not in known:
                intervals.append(model.new_fixed_size_interval_var(f.start, f.end - f.start, "fixed"))
                demands.append(dict(f.pool_demand).get(pool.id, pool.demand))
        if intervals and sum(demands) > pool.capacity:
            model.add_cumulative(intervals, demands, pool.capacity)


def _budget_constraints(sm: ScheduleModel) -> None:
    """Per budget: the work of the requests of its organization whose first step starts inside it."""
    model = sm.model
    for budget in sm.problem.budgets:
        terms: list[cp_model.LinearExprT] = []
        for rv in sm.requests.values():
            if rv.request.org != budget.org or not rv.steps or not rv.steps[0].choices:
                continue
            first = rv.steps[0]
            lo, hi = min(c.lo for c in first.choices), max(c.hi for c in first.choices)
            if hi < budget.start or lo >= budget.end:
                continue
            work = rv.request.total_minutes
            if budget.start <= lo and hi < budget.end:
                terms.append(work * rv.placed)
                continue
            inside = model.new_bool_var(f"in[{budget.id},{rv.request.id}]")
            before = model.new_bool_var("")
            after = model.new_bool_var("")
            model.add_implication(inside, rv.placed)
            model.add(first.start >= budget.start).only_enforce_if(inside)
            model.add(first.start < budget.end).only_enforce_if(inside)
            model.add(first.start < budget.start).only_enforce_if(before)
            model.add(first.start >= budget.end).only_enforce_if(after)
            model.add_bool_or([~rv.placed, inside, before, after])
            terms.append(work * inside)
        if terms:
            model.add(sum(terms) <= budget.minutes)


def _makespan(sm: ScheduleModel) -> None:
    problem, model = sm.problem, sm.model
    ends = [rv.steps[-1].end for rv in sm.requests.values()]
    hi = problem.horizon_end
    sm.makespan = model.new_int_var(problem.horizon_start, hi, "makespan")
    if ends:
        model.add_max_equality(sm.makespan, ends)
    # Redundant: a resource that every one of its bookings must use is busy for at least their total.
    by_resource = _bookings_by_resource(sm)
    for resource in problem.resources:
        mandatory = [c for _, c in by_resource.get(resource.id, []) if len(c.step.resources) == 1]
        if mandatory and len(mandatory) == len(by_resource[resource.id]):
            earliest = min(c.lo for c in mandatory)
            load = sum(c.size for c in mandatory) // resource.capacity
            model.add(sm.makespan >= earliest + load)
