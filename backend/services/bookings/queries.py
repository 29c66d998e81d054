"""Reading bookings: one booking as its owner or staff sees it, lists, the approval queue, the history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from backend.domain.access import Principal, ensure_not_sme, ensure_sees_booking
from backend.domain.bookings import (
    BookingStatus,
    queue_key,
)
from backend.domain.errors import NotFound
from backend.models.booking import Booking, BookingEvent, BookingKind, status_in
from backend.models.types import utcnow
from backend.services.common import get_or_404, page, within_scope


def get_booking(session: Session, who: Principal, booking_id: int) -> Booking:
    booking = get_or_404(session, Booking, booking_id, "booking")
    if booking.parent_id is not None:
        raise NotFound(f"booking {booking_id} is part of booking {booking.parent_id}; use that one")
    ensure_sees_booking(who, booking.platform_id, booking.organization_id, booking.user_id)
    return booking


def bookings_by_id(session: Session, who: Principal, ids: Sequence[int]) -> dict[int, Booking]:
    """The bookings of these ids that the caller may see (others are left out, not refused)."""
    if not ids:
        return {}
    statement = select(Booking).where(col(Booking.id).in_(sorted(set(ids))))
    statement = within_scope(statement, who, Booking.platform_id, Booking.organization_id)
    return {b.id or 0: b for b in session.exec(statement).all()}


def list_bookings(
    session: Session,
    who: Principal,
    *,
    platform_id: int | None = None,
    resource_id: int | None = None,
    status: Sequence[BookingStatus] = (),
    organization_id: int | None = None,
    kind: BookingKind | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    key_project: bool | None = None,
    overdue: bool = False,
    mine: bool = False,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> tuple[list[Booking], int]:
    statement = (
        select(Booking)
        .where(col(Booking.parent_id).is_(None))
        .order_by(col(Booking.starts_at), col(Booking.id))
    )
    statement = within_scope(statement, who, Booking.platform_id, Booking.organization_id)
    if mine:
        statement = statement.where(Booking.user_id == who.user_id)
    if platform_id is not None:
        statement = statement.where(Booking.platform_id == platform_id)
    if resource_id is not None:
        statement = statement.where(Booking.resource_id == resource_id)
    if status:
        statement = statement.where(status_in(status))
    if organization_id is not None:
        statement = statement.where(Booking.organization_id == organization_id)
    if kind is not None:
        statement = statement.where(Booking.kind == kind)
    if start is not None:
        statement = statement.where(col(Booking.ends_at) > start)
    if end is not None:
        statement = statement.where(col(Booking.starts_at) < end)
    if key_project is not None:
        statement = statement.where(Booking.key_project == key_project)
    if overdue:
        statement = statement.where(
            Booking.status == BookingStatus.checked_in, col(Booking.ends_at) < (now or utcnow())
        )
    return page(session, statement, offset, limit)


def approval_queue(session: Session, who: Principal, platform_id: int | None) -> list[Booking]:
    """Requests waiting for a decision: green channel first, then by SLA deadline."""
    ensure_not_sme(who, "approval queues")
    statement = select(Booking).where(
        Booking.status == BookingStatus.requested, col(Booking.parent_id).is_(None)
    )
    statement = within_scope(statement, who, Booking.platform_id)
    if platform_id is not None:
        statement = statement.where(Booking.platform_id == platform_id)
    rows = list(session.exec(statement))
    return sorted(
        rows, key=lambda b: queue_key(b.key_project, b.sla_due_at or b.requested_at, b.requested_at)
    )


def history(session: Session, who: Principal, booking_id: int) -> list[BookingEvent]:
    get_booking(session, who, booking_id)
    return list(
        session.exec(
            select(BookingEvent)
            .where(BookingEvent.booking_id == booking_id)
            .order_by(col(BookingEvent.at), col(BookingEvent.id))
        )
    )
