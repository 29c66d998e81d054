"""Figures a platform operator reads off a plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from scheduler.problem import Assignment, Problem


def open_minutes(problem: Problem, rid: str) -> int:
    """Minutes the resource could work: its open hours, or the whole horizon when it runs unattended."""
    resource = problem.resource(rid)
    whole = ((problem.horizon_start, problem.horizon_end),)
    periods = whole if resource.open is None or resource.unattended else resource.open
    total = sum(max(0, min(e, problem.horizon_end) - max(s, problem.horizon_start)) for s, e in periods)
    return total * resource.capacity


def compute_kpis(problem: Problem, assignments: Sequence[Assignment]) -> dict[str, Any]:
    ends: dict[str, int] = {}
    booked: dict[str, int] = defaultdict(int)
    for a in assignments:
        ends[a.request] = max(ends.get(a.request, a.end), a.end)
        booked[a.resource] += a.end - a.start
    placed = [q for q in problem.requests if q.id in ends]
    lateness = {q.id: max(0, ends[q.id] - q.due) for q in placed if q.due is not None}
    requested: dict[str, int] = defaultdict(int)
    granted: dict[str, int] = defaultdict(int)
    for q in problem.requests:
        requested[q.org] += q.total_minutes
        if q.id in ends:
            granted[q.org] += q.total_minutes
    shares = {org: round(granted[org] / requested[org], 4) for org in sorted(requested) if requested[org]}
    utilization = {}
    for r in problem.resources:
        available = open_minutes(problem, r.id)
        if available:
            utilization[r.id] = round(booked.get(r.id, 0) / available, 4)
    key = [q for q in problem.requests if q.key_project]
    return {
        "requests": len(problem.requests),
        "placed": len(placed),
        "unplaced": len(problem.requests) - len(placed),
        "placed_weight": sum(q.weight for q in placed),
        "requested_weight": sum(q.weight for q in problem.requests),
        "key_projects": len(key),
        "key_projects_placed": sum(1 for q in key if q.id in ends),
        "late_requests": sum(1 for v in lateness.values() if v > 0),
        "lateness_minutes": sum(lateness.values()),
        "key_project_lateness_minutes": sum(
            v for qid, v in lateness.items() if problem.request(qid).key_project
        ),
        "min_org_share": min(shares.values(), default=1.0),
        "org_shares": shares,
        "mean_utilization": round(sum(utilization.values()) / len(utilization), 4) if utilization else 0.0,
        "booked_minutes": sum(booked.values()),
        "makespan": max(ends.values(), default=problem.horizon_start) - problem.horizon_start,
    }
