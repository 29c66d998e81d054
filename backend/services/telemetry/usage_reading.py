"""Usage sessions as the API and the reports read them (docs/usage.md).

For other services (no access checks; callers check):

- `sessions(session, start=, end=, platform_id=, resource_id=, org_id=, booked=)` → the counted sessions
  meeting `[start, end)`, each clipped to it (`start`, `end`, `minutes`), oldest first.
- `booking_usage(session, booking)` → booked vs actual for one booking.

For the API: `list_sessions` and `usage_of_booking` apply the access rules (docs/usage.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.domain import usage_figures as rules
from backend.domain.access import Principal, Role
from backend.domain.bookings import BookingStatus
from backend.domain.errors import AccessDenied, Conflict, Invalid
from backend.models.booking import Booking
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.types import as_utc, utcnow
from backend.models.usage import (
    BookingUsage,
    UsageSession,
    UsageSessionPublic,
)
from backend.services.bookings.queries import get_booking
from backend.services.telemetry.usage import MATCHED_STATUSES


def _finish(row: UsageSession) -> datetime:
    return row.ended_at if row.ended_at is not None else row.last_seen_at


def to_public(
    row: UsageSession, resource_code: str, period: rules.Window | None = None
) -> UsageSessionPublic:
    """The session; `start`/`end`/`minutes` are its part inside `period` (the whole session without one)."""
    start, end = row.started_at, _finish(row)
    if period is not None:
        clipped = rules.clip(start, end, period)
        start, end = clipped if clipped is not None else (start, start)
    assert row.id is not None
    return UsageSessionPublic(
        id=row.id,
        resource_id=row.resource_id,
        resource=resource_code,
        platform_id=row.platform_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        last_seen_at=row.last_seen_at,
        start=start,
        end=end,
        minutes=round((end - start).total_seconds() / 60, 3),
        states=list(row.states or []),
        agents=list(row.agents or []),
        source=row.source,
        closed_by=row.closed_by,
        short=row.short,
        booking_id=row.booking_id,
        organization_id=row.organization_id,
    )


@dataclass(frozen=True)
class SessionFilter:
    start: datetime
    end: datetime
    platform_id: int | None = None
    resource_id: int | None = None
    org_id: int | None = None
    booked: bool | None = None  # True: only sessions in a booking; False: only unbooked use
    include_short: bool = False


def _finish_column() -> Any:
    return func.coalesce(UsageSession.ended_at, UsageSession.last_seen_at)


def _query(f: SessionFilter, *columns: Any) -> Any:
    query = (
        select(*(columns or (UsageSession, Resource.code)))
        .join(Resource, col(Resource.id) == UsageSession.resource_id)
        .where(col(UsageSession.started_at) < f.end, _finish_column() > f.start)
    )
    if f.platform_id is not None:
        query = query.where(UsageSession.platform_id == f.platform_id)
    if f.resource_id is not None:
        query = query.where(UsageSession.resource_id == f.resource_id)
    if f.org_id is not None:
        query = query.where(UsageSession.organization_id == f.org_id)
    if f.booked is True:
        query = query.where(col(UsageSession.booking_id).is_not(None))
    elif f.booked is False:
        query = query.where(col(UsageSession.booking_id).is_(None))
    if not f.include_short:
        query = query.where(col(UsageSession.short).is_(False))
    return query


def sessions(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    platform_id: int | None = None,
    resource_id: int | None = None,
    org_id: int | None = None,
    booked: bool | None = None,
) -> list[UsageSessionPublic]:
    """Counted (not short) sessions meeting [start, end), clipped to it, oldest first. An open session
    counts up to its newest sample. For reports: no access checks here."""
    f = SessionFilter(start, end, platform_id, resource_id, org_id, booked)
    rows = session.exec(_query(f).order_by(col(UsageSession.started_at), col(UsageSession.id))).all()
    return [to_public(row, code, (start, end)) for row, code in rows]


@dataclass(frozen=True)
class Span:
    """A counted session reduced to what figures need, clipped to the period asked for."""

    resource_id: int
    start: datetime
    end: datetime
    organization_id: int | None


def spans(session: Session, *, start: datetime, end: datetime, platform_id: int) -> list[Span]:
    """The platform's counted sessions meeting [start, end), clipped to it, as plain tuples: what a
    report over thousands of sessions needs, without loading each session whole."""
    finish = _finish_column().label("finish")
    f = SessionFilter(start, end, platform_id)
    statement = _query(
        f, UsageSession.resource_id, UsageSession.started_at, finish, UsageSession.organization_id
    )
    out = []
    for rid, began, ended, org in session.exec(statement.order_by(col(UsageSession.started_at))).all():
        lo, hi = max(as_utc(began), start), min(as_utc(ended), end)
        if lo < hi:
            out.append(Span(rid, lo, hi, org))
    return out


def list_sessions(
    session: Session,
    who: Principal,
    f: SessionFilter,
    offset: int = 0,
    limit: int = 100,
    *,
    platform_code: str | None = None,
) -> tuple[list[UsageSessionPublic], int]:
    """One page of the sessions `who` may see. Operators: their platform's; SMEs: their organization's
    booked sessions (never unbooked use, never another organization's); admins and auditors: all."""
    if f.end <= f.start:
        raise Invalid("to", "must be after from")
    if platform_code is not None:
        found = session.exec(select(Platform.id).where(Platform.code == platform_code)).first()
        if found is None:
            raise Invalid("platform", f"no platform has the code {platform_code!r}")
        if f.platform_id is not None and f.platform_id != found:
            raise Invalid("platform", "names another platform than platform_id")
        f = replace(f, platform_id=found)
    if who.role is Role.operator:
        if f.platform_id is not None and f.platform_id != who.platform_id:
            raise AccessDenied("operators see the usage of their own platform only")
        f = replace(f, platform_id=who.platform_id)
    elif who.role is Role.sme:
        if f.org_id is not None and f.org_id != who.organization_id:
            raise AccessDenied("an SME sees the usage of its own organization's bookings only")
        if who.organization_id is None:
            return [], 0
        f = replace(f, org_id=who.organization_id)
    query = _query(f)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(UsageSession.started_at), col(UsageSession.id)).offset(offset).limit(limit)
    ).all()
    return [to_public(row, code, (f.start, f.end)) for row, code in rows], int(count)


def booking_usage(session: Session, booking: Booking, now: datetime | None = None) -> BookingUsage:
    """Booked vs actual for one booking (a pilot line: the union over its instruments).

    Used time is the part of the booking's counted sessions inside the slot; sessions the ingest
    matched to another booking (the previous user's overrun) are not this booking's use.
    """
    if booking.starts_at is None or booking.ends_at is None or booking.id is None:
        raise Conflict(f"booking {booking.id} has no time slot yet (a flexible request not placed)")
    now = now or utcnow()
    slot = (booking.starts_at, booking.ends_at)
    children = session.exec(select(Booking.resource_id).where(Booking.parent_id == booking.id)).all()
    resources = {r for r in [booking.resource_id, *children] if r is not None}
    matched = session.exec(
        select(UsageSession, Resource.code)
        .join(Resource, col(Resource.id) == UsageSession.resource_id)
        .where(UsageSession.booking_id == booking.id, col(UsageSession.short).is_(False))
        .order_by(col(UsageSession.started_at))
    ).all()
    near = (booking.starts_at - rules.ADJACENT, booking.ends_at + rules.ADJACENT)
    unbooked = session.exec(
        select(UsageSession).where(
            col(UsageSession.resource_id).in_(resources),
            col(UsageSession.booking_id).is_(None),
            col(UsageSession.short).is_(False),
            col(UsageSession.started_at) < near[1],
            or_(col(UsageSession.ended_at) > near[0], col(UsageSession.ended_at).is_(None)),
        )
    ).all()
    figures = rules.booking_figures(
        slot,
        [(row.started_at, _finish(row)) for row, _ in matched],
        [(row.started_at, _finish(row)) for row in unbooked],
        now,
        could_run=BookingStatus(booking.status) in MATCHED_STATUSES,
    )
    return BookingUsage(
        booking_id=booking.id,
        resource_id=booking.resource_id,
        organization_id=booking.organization_id,
        status=booking.status,
        start=booking.starts_at,
        end=booking.ends_at,
        booked_minutes=figures.booked_minutes,
        used_minutes=figures.used_minutes,
        utilization=round(figures.utilization, 4),
        early_start_minutes=figures.early_start_minutes,
        late_start_minutes=figures.late_start_minutes,
        overrun_minutes=figures.overrun_minutes,
        unbooked_adjacent_minutes=figures.unbooked_adjacent_minutes,
        no_show=figures.no_show,
        in_progress=figures.in_progress,
        sessions=[to_public(row, code) for row, code in matched],
    )


def usage_of_booking(session: Session, who: Principal, booking_id: int) -> BookingUsage:
    """`booking_usage` for whoever may see the booking (docs/bookings.md access rules)."""
    return booking_usage(session, get_booking(session, who, booking_id))
