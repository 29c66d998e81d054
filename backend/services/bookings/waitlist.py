"""The waitlist: when a taken slot frees up, the first matching waiting request gets it."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlmodel import Session, col, select

from backend.domain.access import Principal, Role
from backend.domain.errors import AccessDenied, Conflict, DomainError, Invalid
from backend.domain.intervals import Interval
from backend.models.booking import Booking, BookingCreate
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.models.user import User
from backend.models.waitlist import WaitlistEntry, WaitlistStatus
from backend.services.accounts.security import principal_of
from backend.services.bookings.requesting import book_fixed, request_booking
from backend.services.common import get_or_404, within_scope


def request_or_wait(
    session: Session, who: Principal, data: BookingCreate, now: datetime | None = None
) -> Booking | WaitlistEntry:
    """Book (or file a request) as asked; with `waitlist: true` a taken slot puts the request on the
    waitlist instead of failing. One transaction: the refused attempt is rolled back to a savepoint."""
    if not data.waitlist:
        return request_booking(session, who, data, now)
    try:
        with session.begin_nested():
            return request_booking(session, who, data, now)
    except Conflict:
        return join(session, who, data, now)


def join(session: Session, who: Principal, data: BookingCreate, now: datetime | None = None) -> WaitlistEntry:
    now = now or utcnow()
    if who.role is Role.auditor:
        raise AccessDenied("auditors have read-only access")
    if data.resource_id is None or data.start is None or data.end is None:
        raise Invalid("waitlist", "only a fixed slot (resource_id, start, end) can wait for a resource")
    if data.end <= now:
        raise Invalid("start", "is in the past")
    entry = WaitlistEntry(
        resource_id=data.resource_id,
        user_id=who.user_id,
        organization_id=who.organization_id,
        starts_at=data.start,
        ends_at=data.end,
        purpose=data.purpose,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def promote(session: Session, resource_id: int, freed: Interval, now: datetime) -> None:
    """Offer or book freed time to the waiting entries of `resource_id`, oldest first."""
    waiting = session.exec(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.resource_id == resource_id,
            WaitlistEntry.status == WaitlistStatus.waiting,
            col(WaitlistEntry.starts_at) < freed.end,
            col(WaitlistEntry.ends_at) > freed.start,
        )
        .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
    ).all()
    for entry in waiting:
        if entry.ends_at <= now:
            entry.status = WaitlistStatus.expired
            session.add(entry)
            continue
        user = session.get(User, entry.user_id)
        if user is None or not user.is_active:
            continue
        slot = Interval(entry.starts_at, entry.ends_at)
        declaration = SimpleNamespace(
            purpose=entry.purpose,
            project_name=None,
            sample_description=None,
            hazardous=False,
            hazard_details=None,
        )
        try:
            with session.begin_nested():
                booking = book_fixed(
                    session, principal_of(user), resource_id, slot, declaration, now, source="waitlist"
                )
        except DomainError:
            continue  # still taken (another part of the slot) or no longer allowed; keep waiting
        entry.status, entry.booking_id = WaitlistStatus.booked, booking.id
        session.add(entry)


def list_entries(session: Session, who: Principal, resource_id: int | None) -> list[WaitlistEntry]:
    statement = select(WaitlistEntry).order_by(col(WaitlistEntry.created_at))
    statement = within_scope(
        statement.join(Resource), who, Resource.platform_id, WaitlistEntry.organization_id
    )
    if resource_id is not None:
        statement = statement.where(WaitlistEntry.resource_id == resource_id)
    return list(session.exec(statement))


def leave(session: Session, who: Principal, entry_id: int) -> WaitlistEntry:
    entry = get_or_404(session, WaitlistEntry, entry_id, "waitlist entry")
    if entry.user_id != who.user_id and who.role is not Role.admin:
        raise AccessDenied("only the person waiting may leave the waitlist")
    entry.status = WaitlistStatus.cancelled
    session.add(entry)
    return entry
