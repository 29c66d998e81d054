"""Sharing-performance figures of one platform over one period, from stored facts.

Pure code: the service loads usage sessions, bookings and rate cards into the small fact classes
below, and `sharing_report` computes every figure. Each figure's definition is in docs/reports.md;
an auditor who loads the same facts gets the same numbers (the report carries a fingerprint of them).
Times are in seconds internally (exact), shown as hours rounded to 2 decimals.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from backend.domain.intervals import Interval, normalize

#: Statuses of a booking whose slot was granted (the slot counts as booked time).
GRANTED = frozenset({"approved", "checked_in", "completed", "no_show"})
USER_CLASSES = ("internal", "external_sme", "key_project")


@dataclass(frozen=True)
class ResourceFact:
    id: int
    code: str
    name: str
    kind: str
    status: str = "active"
    priced: bool = False  # an hourly fee standard for SMEs is valid on the period's last day


@dataclass(frozen=True)
class SessionFact:
    """A counted usage session (not `short`): [start, end), end = last sample seen while still open."""

    resource_id: int
    start: datetime
    end: datetime
    organization_id: int | None


@dataclass(frozen=True)
class BookingFact:
    id: int
    resource_id: int | None
    top_level: bool  # False for the per-instrument rows of a pilot line booking
    books_line: bool  # the row of a pilot line itself; its instruments' rows carry the booked time
    organization_id: int | None
    user_class: str
    status: str
    key_project: bool
    requested_at: datetime
    decided_at: datetime | None
    decided_by_person: bool  # False for automatic approval and platform staff's own bookings
    sla_due_at: datetime | None
    start: datetime | None
    end: datetime | None
    price: Decimal | None  # booked hours × the hourly rate card of its user class; None without a card


@dataclass(frozen=True)
class ResourceFigures:
    code: str
    name: str
    kind: str
    effective_hours: float
    external_hours: float
    sharing_rate: float | None
    booked_hours: float
    used_booked_hours: float
    utilization: float | None


@dataclass(frozen=True)
class ResponseFigures:
    decisions: int
    median_hours: float | None
    p90_hours: float | None
    within_sla: int


@dataclass(frozen=True)
class BookingCounts:
    requested: int
    approved: int
    rejected: int
    cancelled: int
    no_show: int
    completed: int
    pending: int


@dataclass(frozen=True)
class Income:
    by_class: dict[str, Decimal]
    internal: Decimal
    external: Decimal
    total: Decimal
    completed_bookings: int
    unpriced_bookings: int


@dataclass(frozen=True)
class Management:
    resources: int  # not retired: instruments, venues and lines
    active: int  # of those, open for booking
    priced: int  # of those, with a published hourly fee standard for SMEs


@dataclass(frozen=True)
class SharingReport:
    effective_hours: float
    external_hours: float
    sharing_rate: float | None
    smes_served: int
    bookings: BookingCounts
    response_ordinary: ResponseFigures
    response_green: ResponseFigures
    booked_hours: float
    used_booked_hours: float
    utilization: float | None
    income: Income
    resources: list[ResourceFigures] = field(default_factory=list)
    key_projects_completed: int = 0
    management: Management = field(default_factory=lambda: Management(0, 0, 0))


# --- small pieces ------------------------------------------------------------------------------


def hours(seconds: float) -> float:
    return round(seconds / 3600, 2)


def ratio(part: float, whole: float) -> float | None:
    """part ÷ whole to 4 decimals; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole > 0 else None


def clip(start: datetime, end: datetime, period: Interval) -> Interval | None:
    """The part of [start, end) inside `period`, or None."""
    lo, hi = max(start, period.start), min(end, period.end)
    return Interval(lo, hi) if lo < hi else None


def seconds_in(intervals: Iterable[Interval]) -> float:
    """Seconds covered by the union of `intervals` (overlaps counted once)."""
    return sum(iv.duration.total_seconds() for iv in normalize(intervals))


def overlap_seconds(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Seconds covered by both unions."""
    total = 0.0
    for x in normalize(a):
        for y in normalize(b):
            lo, hi = max(x.start, y.start), min(x.end, y.end)
            if lo < hi:
                total += (hi - lo).total_seconds()
    return total


def median(values: Sequence[float]) -> float | None:
    """The middle value; the mean of the two middle ones for an even count."""
    return statistics.median(values) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest rank: the smallest value with at least 90% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


# --- the figures -------------------------------------------------------------------------------


def response_figures(bookings: Iterable[BookingFact]) -> ResponseFigures:
    """Request → decision, for decisions a person made (automatic approvals take no time to count)."""
    waits: list[float] = []
    within = 0
    for b in bookings:
        if b.decided_at is None or not b.decided_by_person:
            continue
        waits.append((b.decided_at - b.requested_at).total_seconds() / 3600)
        if b.sla_due_at is not None and b.decided_at <= b.sla_due_at:
            within += 1
    m, p = median(waits), p90(waits)
    return ResponseFigures(
        decisions=len(waits),
        median_hours=None if m is None else round(m, 2),
        p90_hours=None if p is None else round(p, 2),
        within_sla=within,
    )


def booking_counts(bookings: Iterable[BookingFact]) -> BookingCounts:
    """The fate of the requests filed in the period (as they stand now)."""
    rows = list(bookings)
    approved = sum(1 for b in rows if b.decided_at is not None and b.status != "rejected")
    return BookingCounts(
        requested=len(rows),
        approved=approved,
        rejected=sum(1 for b in rows if b.status == "rejected"),
        cancelled=sum(1 for b in rows if b.status == "cancelled"),
        no_show=sum(1 for b in rows if b.status == "no_show"),
        completed=sum(1 for b in rows if b.status == "completed"),
        pending=sum(1 for b in rows if b.status == "requested"),
    )


def income(bookings: Iterable[BookingFact]) -> Income:
    """Completed bookings starting in the period, at their rate-card price (booked time × hourly rate)."""
    by_class = {c: Decimal("0.00") for c in USER_CLASSES}
    completed = unpriced = 0
    for b in bookings:
        if b.status != "completed" or b.start is None or b.end is None:
            continue
        completed += 1
        if b.price is None:
            unpriced += 1
            continue
        by_class[b.user_class] = by_class.get(b.user_class, Decimal("0.00")) + b.price
    internal = by_class.get("internal", Decimal("0.00"))
    total = sum(by_class.values(), Decimal("0.00"))
    return Income(by_class, internal, total - internal, total, completed, unpriced)


def sharing_report(
    period: Interval,
    owner_org_id: int | None,
    resources: Sequence[ResourceFact],
    sessions: Sequence[SessionFact],
    bookings: Sequence[BookingFact],
    sme_org_ids: frozenset[int],
    as_of: datetime | None = None,
) -> SharingReport:
    """Every figure of docs/reports.md for one platform and period, as the data stood at `as_of` (by
    default the end of the period): booked time still to come is not compared with use yet.

    `sessions` are the platform's counted usage sessions, `bookings` its bookings whose request or slot
    touches the period (the function picks what each figure needs), `sme_org_ids` the organizations of
    kind SME. Pilot lines are measured through their instruments: they get no row of their own.
    """
    used: dict[int, list[Interval]] = {}
    external: dict[int, list[Interval]] = {}
    served: set[int] = set()
    for s in sessions:
        part = clip(s.start, s.end, period)
        if part is None:
            continue
        used.setdefault(s.resource_id, []).append(part)
        if s.organization_id is not None and s.organization_id != owner_org_id:
            external.setdefault(s.resource_id, []).append(part)
            if s.organization_id in sme_org_ids:
                served.add(s.organization_id)

    booked: dict[int, list[Interval]] = {}
    until = period.end if as_of is None else min(period.end, as_of)
    due = clip(period.start, until, period)  # None before the period has begun
    for b in bookings:
        if b.status not in GRANTED or b.books_line or b.resource_id is None:
            continue
        if b.start is None or b.end is None or due is None:
            continue
        part = clip(b.start, b.end, due)
        if part is not None:
            booked.setdefault(b.resource_id, []).append(part)

    rows: list[ResourceFigures] = []
    totals = {"effective": 0.0, "external": 0.0, "booked": 0.0, "used_booked": 0.0}
    for r in sorted((r for r in resources if r.kind != "line"), key=lambda r: r.code):
        effective = seconds_in(used.get(r.id, []))
        outside = seconds_in(external.get(r.id, []))
        booked_s = seconds_in(booked.get(r.id, []))
        used_booked = overlap_seconds(used.get(r.id, []), booked.get(r.id, []))
        totals["effective"] += effective
        totals["external"] += outside
        totals["booked"] += booked_s
        totals["used_booked"] += used_booked
        rows.append(
            ResourceFigures(
                code=r.code,
                name=r.name,
                kind=r.kind,
                effective_hours=hours(effective),
                external_hours=hours(outside),
                sharing_rate=ratio(outside, effective),
                booked_hours=hours(booked_s),
                used_booked_hours=hours(used_booked),
                utilization=ratio(used_booked, booked_s),
            )
        )

    top = [b for b in bookings if b.top_level]
    filed = [b for b in top if period.start <= b.requested_at < period.end]
    starting = [b for b in top if b.start is not None and period.start <= b.start < period.end]
    for b in starting:
        if b.status == "completed" and b.organization_id is not None and b.organization_id in sme_org_ids:
            served.add(b.organization_id)
    return SharingReport(
        effective_hours=hours(totals["effective"]),
        external_hours=hours(totals["external"]),
        sharing_rate=ratio(totals["external"], totals["effective"]),
        smes_served=len(served),
        bookings=booking_counts(filed),
        response_ordinary=response_figures(b for b in filed if not b.key_project),
        response_green=response_figures(b for b in filed if b.key_project),
        booked_hours=hours(totals["booked"]),
        used_booked_hours=hours(totals["used_booked"]),
        utilization=ratio(totals["used_booked"], totals["booked"]),
        income=income(starting),
        resources=rows,
        key_projects_completed=sum(1 for b in starting if b.key_project and b.status == "completed"),
        management=management(resources),
    )


def management(resources: Sequence[ResourceFact]) -> Management:
    kept = [r for r in resources if r.status != "retired"]
    return Management(
        resources=len(kept),
        active=sum(1 for r in kept if r.status == "active"),
        priced=sum(1 for r in kept if r.priced),
    )
