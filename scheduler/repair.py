"""Repair a plan after a resource fault or an urgent request, moving as few bookings as possible.

The new model is the old problem plus the event, with:
- bookings already running at ``now`` (start < now) frozen where they are, and no new start before ``now``;
- the current plan as a complete hint (the urgent request hinted at its earliest fit between the bookings);
- a ``kept`` literal per movable booking (same resource, same start); a moved booking is one not kept;
- a cap on moved bookings (when the event itself forces more moves than the cap, the cap yields to them).

Tiers, solved in stages like the default objective: placed priority weight, then the number of moved
bookings, then weighted lateness.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from scheduler import greedy
from scheduler.model import ScheduleModel, build_model
from scheduler.problem import (
    Assignment,
    FieldError,
    Fixed,
    Plan,
    Problem,
    ProblemError,
    Request,
    parse_request,
    parse_time,
)
from scheduler.solve import KEY_LATENESS_FACTOR, Progress, finish_plan, priority_weights, solve_staged


@dataclass(frozen=True)
class Fault:
    """A resource out of service between ``start`` and ``end``."""

    resource: str
    start: int
    end: int


@dataclass(frozen=True)
class Urgent:
    """A request that must be fitted in now (usually a key project)."""

    request: Request


Event = Fault | Urgent


@dataclass(frozen=True)
class Move:
    request: str
    step: str
    before: Assignment
    after: Assignment | None  # None: the booking could not be kept in the plan at all
    reason: str


@dataclass(frozen=True)
class RepairResult:
    plan: Plan
    moved: tuple[Move, ...]


def parse_event(data: object, problem: Problem, path: str = "event") -> Event:
    if not isinstance(data, dict):
        raise ProblemError([FieldError(path, "must be an object")])
    kind = data.get("kind")
    if kind == "fault":
        rid = data.get("resource")
        if rid not in problem._resource_index:
            raise ProblemError([FieldError(f"{path}.resource", f"unknown resource {rid!r}")])
        start = parse_time(data.get("start"), problem, f"{path}.start")
        end = parse_time(data.get("end"), problem, f"{path}.end")
        if end <= start:
            raise ProblemError([FieldError(f"{path}.end", "must be after start")])
        return Fault(str(rid), start, end)
    if kind == "urgent":
        return Urgent(parse_request(data.get("request"), problem, f"{path}.request"))
    raise ProblemError([FieldError(f"{path}.kind", "must be 'fault' or 'urgent'")])


def apply_event(problem: Problem, event: Event) -> Problem:
    if isinstance(event, Fault):
        resources = tuple(
            dataclasses.replace(r, unavailable=(*r.unavailable, (event.start, event.end)))
            if r.id == event.resource
            else r
            for r in problem.resources
        )
        return dataclasses.replace(problem, resources=resources)
    return dataclasses.replace(problem, requests=(*problem.requests, event.request))


def _interrupted(a: Assignment, event: Event, now: int) -> bool:
    return (
        isinstance(event, Fault)
        and a.resource == event.resource
        and a.start < now
        and a.start < event.end
        and a.end > event.start
    )


def repair(
    problem: Problem,
    current: Sequence[Assignment],
    event: Event,
    now: int,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    max_moves: int | None = None,
    progress: Progress | None = None,
) -> RepairResult:
    """Re-plan after ``event`` at time ``now``; see the module docstring for the rules."""
    began = time.perf_counter()
    changed = apply_event(problem, event)
    # A run cut short by the fault cannot be continued: its request leaves the plan for a person to rebook.
    cut = {a.request for a in current if _interrupted(a, event, now)}
    running = [a for a in current if a.start < now and a.request not in cut]
    changed = dataclasses.replace(
        changed,
        requests=tuple(q for q in changed.requests if q.id not in cut),
        fixed=(
            *(f for f in changed.fixed if f.request not in cut),
            *(Fixed(a.request, a.step, a.resource, a.start, a.end) for a in running),
        ),
    )
    sm = build_model(changed, not_before=now)
    movable = [a for a in current if a.start >= now and a.request not in cut]
    moved_lits = _moved_literals(sm, movable)
    forced = sum(1 for lit in moved_lits if isinstance(lit, int) and lit == 1)
    cap = None if max_moves is None else max(max_moves, forced)
    hint = _hint(changed, current, event, cut)
    if cap is not None and moved_lits:
        sm.model.add(sum(moved_lits) <= cap)
    assignments, unplaced, stages = solve_staged(
        sm, time_limit, workers, seed, progress, tiers=_tiers(sm, moved_lits), hint=hint, polish=False
    )
    if cap is not None and stages and stages[0].status == "infeasible":
        if progress:
            progress(f"no plan moves at most {cap} bookings; repairing without the cap")
        left = max(0.5, time_limit - (time.perf_counter() - began))
        return repair(problem, current, event, now, left, workers, seed, None, progress)
    build_seconds = 0.0
    plan = finish_plan(
        changed,
        assignments,
        unplaced,
        stages,
        build_seconds,
        began,
        True,
        progress,
        extra_kpis={"move_cap": cap, "now": now},
    )
    moves = _moves(changed, current, plan.assignments, event, cut)
    if cut:
        plan = dataclasses.replace(plan, kpis={**plan.kpis, "interrupted_requests": sorted(cut)})
    return RepairResult(plan, tuple(moves))


def _moved_literals(sm: ScheduleModel, movable: list[Assignment]) -> list[Any]:
    """Per movable booking: 1 when it cannot stay, else the negation of a ``kept`` literal."""
    out: list[Any] = []
    for a in movable:
        rv = sm.requests.get(a.request)
        sv = next((s for s in rv.steps if s.step.id == a.step), None) if rv else None
        choice = next((c for c in sv.choices if c.resource == a.resource), None) if sv else None
        if choice is None or not choice.can_start(a.start):
            out.append(1)
            continue
        kept = sm.model.new_bool_var(f"kept[{a.request},{a.step}]")
        sm.model.add_implication(kept, choice.present)
        sm.model.add(choice.start == a.start).only_enforce_if(kept)
        sm.model.add_hint(kept, True)
        out.append(~kept)
    return out


def _tiers(sm: ScheduleModel, moved: list[Any]) -> list[tuple[str, cp_model.LinearExprT, bool]]:
    weights = priority_weights(sm.problem)
    rvs = list(sm.requests.values())
    tiers: list[tuple[str, cp_model.LinearExprT, bool]] = [
        ("placed_weight", sum(weights[rv.request.id] * rv.placed for rv in rvs), True),
        ("moves", sum(moved), False),
    ]
    late = [
        (rv.request.weight * (KEY_LATENESS_FACTOR if rv.request.key_project else 1), rv.lateness)
        for rv in rvs
        if rv.lateness is not None
    ]
    if late:
        tiers.append(("lateness", sum(w * v for w, v in late), False))
    return tiers


def _hint(problem: Problem, current: Sequence[Assignment], event: Event, cut: set[str]) -> list[Assignment]:
    kept = [a for a in current if a.request not in cut]
    if isinstance(event, Urgent):
        timeline = greedy.Timeline(dataclasses.replace(problem, fixed=()))
        for a in kept:
            timeline.add_assignment(problem.request(a.request), a)
        fitted = timeline.place_request(event.request)
        if fitted:
            kept.extend(fitted)
    return kept


def _moves(
    problem: Problem,
    before: Sequence[Assignment],
    after: Sequence[Assignment],
    event: Event,
    cut: set[str],
) -> list[Move]:
    new = {(a.request, a.step): a for a in after}
    moves: list[Move] = []
    moved_steps = {
        (a.request, a.step)
        for a in before
        if new.get((a.request, a.step)) is None
        or (new[(a.request, a.step)].resource, new[(a.request, a.step)].start) != (a.resource, a.start)
    }
    for a in before:
        if (a.request, a.step) not in moved_steps:
            continue
        b = new.get((a.request, a.step))
        moves.append(Move(a.request, a.step, a, b, _why(problem, a, b, after, event, cut, moved_steps)))
    return moves


def _why(
    problem: Problem,
    old: Assignment,
    new: Assignment | None,
    after: Sequence[Assignment],
    event: Event,
    cut: set[str],
    moved_steps: set[tuple[str, str]],
) -> str:
    c = problem.codec
    if old.request in cut:
        assert isinstance(event, Fault)
        return (
            f"the run on {old.resource} was interrupted by the fault at {c.describe(event.start)}; "
            "the request must be rebooked by a person"
        )
    if (
        isinstance(event, Fault)
        and old.resource == event.resource
        and old.start < event.end
        and old.end > event.start
    ):
        return f"{old.resource} is out of service from {c.describe(event.start)} to {c.describe(event.end)}"
    takers = [
        a
        for a in after
        if a.resource == old.resource and a.start < old.end and a.end > old.start and a.request != old.request
    ]
    if isinstance(event, Urgent) and any(a.request == event.request.id for a in takers):
        return f"its slot on {old.resource} went to urgent request {event.request.id}"
    if takers:
        t = takers[0]
        return f"its slot on {old.resource} went to {t.request}/{t.step}, which had to move"
    siblings = [s for (q, s) in moved_steps if q == old.request and s != old.step]
    if siblings:
        return f"keeps order and gap limits with step {siblings[0]} of the same request, which moved"
    if new is None:
        return "no longer fits anywhere after the event; see unplaced"
    return "moved to reduce lateness"
