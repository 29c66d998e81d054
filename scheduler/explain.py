"""Reasons for unplaced requests that a person can act on.

For each unplaced request three questions are answered, cheapest first, with the dispatching timeline of
greedy.py (exact earliest insertion against bookings that stay where they are):

1. Does every step fit on some candidate resource at all inside the request's window, counting only the
   calendar (open hours, maintenance, confirmed bookings)? If not, the request cannot be served as asked.
2. Does it fit between the bookings of the plan? If so the optimizer left it out only because it ran out of
   time; say where it fits.
3. Otherwise: when is the earliest start with the window lifted (release kept, deadline and horizon end
   extended by one horizon length) and the plan left as it is?
"""

from __future__ import annotations

import dataclasses
import itertools
import time

from scheduler.greedy import Timeline
from scheduler.model import outside_blocks, start_windows
from scheduler.problem import Assignment, Problem, Request, Step


def explain_unplaced(
    problem: Problem,
    assignments: list[Assignment],
    unplaced: list[str],
    budget_seconds: float = 5.0,
) -> dict[str, str]:
    deadline = time.perf_counter() + budget_seconds
    reasons: dict[str, str] = {}
    for qid in unplaced:
        q = problem.request(qid)
        if time.perf_counter() > deadline:
            reasons[qid] = (
                f"no slot found for {_needs(q)} between {_window(problem, q)} (not analysed further)"
            )
            continue
        reasons[qid] = explain_request(problem, assignments, q)
    return reasons


def _needs(q: Request) -> str:
    if len(q.steps) == 1:
        return f"{q.steps[0].duration} min"
    return f"{len(q.steps)} steps ({q.total_minutes} min in all)"


def _latest_end(problem: Problem, q: Request) -> int:
    return min(problem.horizon_end, q.deadline) if q.deadline is not None else problem.horizon_end


def _window(problem: Problem, q: Request) -> str:
    c = problem.codec
    start = max(q.release, problem.horizon_start)
    return f"{c.describe(start)} and {c.describe(_latest_end(problem, q))}"


def _candidates(step: Step) -> str:
    return ", ".join(step.resources)


def explain_request(problem: Problem, assignments: list[Assignment], q: Request) -> str:
    c = problem.codec
    earliest, latest_end = max(q.release, problem.horizon_start), _latest_end(problem, q)
    if earliest + q.total_minutes > latest_end:
        return (
            f"its window from {c.describe(earliest)} to {c.describe(latest_end)} is shorter than its "
            f"{q.total_minutes} min of work; move the release or deadline, or extend the horizon"
        )
    blocked = _step_that_never_fits(problem, q)
    if blocked is not None:
        return blocked
    # On resources holding nothing but maintenance and outside bookings, can the steps be chained at all?
    outside = tuple(f for f in problem.fixed if f.request not in problem._request_index)
    outside_only = dataclasses.replace(problem, fixed=outside)
    alone = Timeline(outside_only).place_request(q)
    if alone is None and len(q.steps) > 1:
        return (
            f"its {len(q.steps)} steps cannot follow each other within the gap limits between "
            f"{_window(problem, q)} even on empty resources; widen max_gap_minutes or the window"
        )
    timeline = Timeline(_without(problem, q))
    pinned = {(f.request, f.step) for f in problem.fixed}
    for a in assignments:
        if a.request == q.id or (a.request, a.step) in pinned:
            continue
        timeline.add_assignment(problem.request(a.request), a)
    over = _over_budget(problem, timeline, q)
    if over is not None:
        return over
    fits = timeline.place_request(q)
    if fits is not None:
        where = fits[0]
        return (
            f"a slot is free from {c.describe(where.start)} on {where.resource}, but the optimizer stopped "
            "at its time limit before placing it; run it again with a longer time limit"
        )
    candidates = list(dict.fromkeys(r for s in q.steps for r in s.resources))
    window = _window(problem, q)
    names = ", ".join(candidates[:6]) + (f" and {len(candidates) - 6} more" if len(candidates) > 6 else "")
    busy = f"no candidate resource ({names}) is free for {_needs(q)} between {window}"
    busy += _occupants(problem, assignments, q, candidates)
    lifted = dataclasses.replace(q, deadline=None)
    span = problem.horizon_end - problem.horizon_start
    wider = dataclasses.replace(_without(problem, q), horizon_end=problem.horizon_end + span)
    timeline.problem = wider
    timeline._windows.clear()
    later = timeline.place_request(lifted)
    if later is None:
        if all(problem.resource(r).open is not None for r in candidates):
            end = c.describe(problem.horizon_end)
            return f"{busy}, nor later up to the horizon end ({end}); no opening hours are known after it"
        return f"{busy}, nor in the {span // 1440 or span} {'days' if span >= 1440 else 'minutes'} after it"
    return f"{busy}; the earliest feasible start is {c.describe(later[0].start)} on {later[0].resource}"


def _over_budget(problem: Problem, timeline: Timeline, q: Request) -> str | None:
    """A quota that leaves no room for ``q`` in any budget its window touches, as a sentence."""
    earliest, latest_end = max(q.release, problem.horizon_start), _latest_end(problem, q)
    touched = sorted(
        (b for b in problem.budgets if b.org == q.org and b.start < latest_end and b.end > earliest),
        key=lambda b: b.start,
    )
    if not touched:
        return None
    free_before = earliest < min(b.start for b in touched)
    gaps = any(b2.start > b1.end for b1, b2 in itertools.pairwise(touched))
    if free_before or gaps or latest_end > max(b.end for b in touched):
        return None  # some start in the window is under no budget
    if any(timeline.budget_left(b) >= q.total_minutes for b in touched):
        return None
    c = problem.codec
    left = ", ".join(
        f"{timeline.budget_left(b)} min left from {c.describe(b.start)} to {c.describe(b.end)}"
        for b in touched
    )
    return f"the quota of {q.org or 'its organization'} has no room for its {q.total_minutes} min ({left})"


def _occupants(problem: Problem, assignments: list[Assignment], q: Request, candidates: list[str]) -> str:
    """Who holds the candidate resources during the window, most important first."""
    start, end = max(q.release, problem.horizon_start), _latest_end(problem, q)
    holders = {a.request for a in assignments if a.resource in candidates and a.start < end and a.end > start}
    holders |= {
        f.request for f in problem.fixed if f.resource in candidates and f.start < end and f.end > start
    }
    if not holders:
        return ""

    def rank(qid: str) -> tuple[bool, int, str]:
        other = problem._request_index.get(qid)
        return (not (other and other.key_project), -(other.weight if other else 0), qid)

    ordered = sorted(holders, key=rank)
    keys = [h for h in ordered if (r := problem._request_index.get(h)) is not None and r.key_project]
    shown = ", ".join(ordered[:5]) + (f" and {len(ordered) - 5} more" if len(ordered) > 5 else "")
    more_keys = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    note = f"; key projects among them: {', '.join(keys[:3])}{more_keys}" if keys else ""
    return f" (held by {shown}{note})"


def _without(problem: Problem, q: Request) -> Problem:
    """The problem with pinned steps of ``q`` dropped, so the timeline does not book them twice."""
    fixed = tuple(f for f in problem.fixed if f.request != q.id)
    return dataclasses.replace(problem, fixed=fixed)


def _step_that_never_fits(problem: Problem, q: Request) -> str | None:
    earliest = max(q.release, problem.horizon_start)
    latest_end = _latest_end(problem, q)
    for step in q.steps:
        if any(_ranges(problem, q, step, rid, earliest, latest_end) for rid in step.resources):
            continue
        longest = max((_longest_open(problem, rid) for rid in step.resources), default=0)
        if longest and step.duration > longest:
            return (
                f"step {step.id} needs {step.duration} min but the longest opening period of its candidate "
                f"resources ({_candidates(step)}) is {longest} min; allow unattended runs or split the step"
            )
        return (
            f"step {step.id} ({step.duration} min) fits on none of its candidate resources "
            f"({_candidates(step)}) between {_window(problem, q)}: opening hours, maintenance and confirmed "
            "bookings leave no gap that long; widen the window or add a candidate resource"
        )
    return None


def _ranges(problem: Problem, q: Request, step: Step, rid: str, earliest: int, latest_end: int) -> bool:
    resource = problem.resource(rid)
    blocks = outside_blocks(problem, resource, q.org, q.material_class)
    size = step.duration + resource.setup_minutes
    return bool(start_windows(problem, resource, size, earliest, latest_end, blocks))


def _longest_open(problem: Problem, rid: str) -> int:
    resource = problem.resource(rid)
    if resource.open is None or resource.unattended:
        return 0
    return max((e - s for s, e in resource.open), default=0)
