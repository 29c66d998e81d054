"""A booking after its request: approve, reject, cancel, check in and out, green channel, no-shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from backend.domain.access import Principal, Role, can_manage_platform, ensure_manages_platform
from backend.domain.bookings import (
    FINAL,
    HOLDS_SLOT,
    Action,
    BookingFacts,
    BookingStatus,
    cancellation_fee,
    check_in_window,
    ensure_may,
    next_status,
    sla_due,
)
from backend.domain.commands import UnlockAt
from backend.domain.errors import Conflict, Invalid
from backend.domain.intervals import Interval
from backend.models.booking import Booking, BookingKind
from backend.models.platform import Platform
from backend.models.rate import UserClass
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.services.bookings import interlock
from backend.services.bookings.journal import record_event
from backend.services.bookings.queries import get_booking
from backend.services.bookings.waitlist import promote
from backend.services.common import get_or_404
from backend.services.money.rates import price_of
from backend.services.notifications.outbox import notify_booking


def _facts(booking: Booking) -> BookingFacts:
    slot = Interval(booking.starts_at, booking.ends_at) if booking.starts_at and booking.ends_at else None
    return BookingFacts(
        BookingStatus(booking.status), booking.platform_id, booking.organization_id, booking.user_id, slot
    )


def _children(session: Session, booking: Booking) -> list[Booking]:
    return list(session.exec(select(Booking).where(Booking.parent_id == booking.id)))


def _set_status(session: Session, booking: Booking, status: BookingStatus) -> None:
    booking.status = status
    session.add(booking)
    for child in _children(session, booking):
        child.status = status
        session.add(child)


def transition(
    session: Session,
    who: Principal,
    booking_id: int,
    action: Action,
    reason: str | None = None,
    now: datetime | None = None,
) -> Booking:
    now = now or utcnow()
    booking = get_booking(session, who, booking_id)
    facts = _facts(booking)
    ensure_may(who, action, facts)
    target = next_status(action, facts.status)
    platform = get_or_404(session, Platform, booking.platform_id, "platform")
    staff = who.role is Role.admin or (who.role is Role.operator and who.platform_id == booking.platform_id)
    if action is Action.reject and not reason:
        raise Invalid("reason", "say why the request is rejected; the SME sees it")
    if action is Action.cancel and staff and booking.user_id != who.user_id and not reason:
        raise Invalid("reason", "say why the platform cancels this booking; the SME sees it")
    if action in (Action.approve, Action.reject):
        if booking.kind == BookingKind.flexible and booking.starts_at is None and action is Action.approve:
            raise Conflict("status: a flexible request is approved by placing it (POST /schedule/runs)")
        booking.decided_at, booking.decided_by_id, booking.decision_reason = now, who.user_id, reason
    elif action is Action.check_in:
        assert facts.slot is not None
        check_in_window(facts.slot, now, timedelta(minutes=platform.check_in_early_minutes))
        booking.checked_in_at = now
    elif action is Action.check_out:
        booking.checked_out_at = now
    elif action is Action.cancel:
        booking.cancelled_at, booking.decision_reason = now, reason or booking.decision_reason
        if facts.slot is not None:
            booking.cancellation_fee = cancellation_fee(
                facts.slot,
                now,
                platform.cancellation_free_hours,
                platform.cancellation_fee_percent,
                booking.estimated_price,
                by_staff=staff and booking.user_id != who.user_id,
            )
    before = booking.status
    _set_status(session, booking, target)
    record_event(session, booking, action.value, before, who.user_id, reason, at=now)
    notify_booking(session, booking, f"booking.{target.value}")
    _drive_interlock(session, booking, action, who.user_id, now)
    if target not in HOLDS_SLOT and facts.slot is not None:
        session.flush()
        promote(session, booking.resource_id or 0, facts.slot, now)
    return booking


def _drive_interlock(session: Session, booking: Booking, action: Action, who: int, now: datetime) -> None:
    """Interlocked instruments open at check-in and close at check-out (services/bookings/interlock.py)."""
    if action is Action.check_in:
        session.flush()
        interlock.unlock_for(session, booking, UnlockAt.check_in, who, now)
    elif action is Action.check_out:
        session.flush()
        interlock.lock_after(session, booking, who, now)


def approve(session: Session, who: Principal, booking_id: int, reason: str | None = None) -> Booking:
    """The platform grants a requested slot."""
    return transition(session, who, booking_id, Action.approve, reason)


def reject(session: Session, who: Principal, booking_id: int, reason: str | None) -> Booking:
    """The platform refuses a request; the reason is required and the SME sees it."""
    return transition(session, who, booking_id, Action.reject, reason)


def cancel(session: Session, who: Principal, booking_id: int, reason: str | None = None) -> Booking:
    """The requester (or the platform, with a reason) cancels; a late cancellation may cost a fee."""
    return transition(session, who, booking_id, Action.cancel, reason)


def check_in(session: Session, who: Principal, booking_id: int, reason: str | None = None) -> Booking:
    """The SME arrives: allowed from the platform's early check-in window before the start."""
    return transition(session, who, booking_id, Action.check_in, reason)


def check_out(session: Session, who: Principal, booking_id: int, reason: str | None = None) -> Booking:
    """The run is over: the booking is completed."""
    return transition(session, who, booking_id, Action.check_out, reason)


def set_key_project(
    session: Session, who: Principal, booking_id: int, key_project: bool, reason: str | None
) -> Booking:
    """Green channel: an operator or admin flags a request as a key project; its SLA clock shortens."""
    booking = get_booking(session, who, booking_id)
    ensure_manages_platform(who, booking.platform_id)
    if BookingStatus(booking.status) in FINAL:
        raise Conflict(f"status: a {booking.status} booking cannot change its priority")
    platform = get_or_404(session, Platform, booking.platform_id, "platform")
    booking.key_project = key_project
    booking.sla_due_at = sla_due(
        booking.requested_at, key_project, platform.sla_hours, platform.green_sla_hours
    )
    if key_project and booking.user_class == UserClass.external_sme:
        booking.user_class = UserClass.key_project
    elif not key_project and booking.user_class == UserClass.key_project:
        booking.user_class = UserClass.external_sme
    if booking.starts_at and booking.ends_at and booking.resource_id:
        booking.estimated_price = price_of(
            session,
            booking.resource_id,
            UserClass(booking.user_class),
            Interval(booking.starts_at, booking.ends_at),
        )
    session.add(booking)
    record_event(
        session, booking, "key-project" if key_project else "ordinary", booking.status, who.user_id, reason
    )
    if key_project:
        notify_booking(session, booking, "booking.key_project")
    return booking


def sweep_no_shows(session: Session, now: datetime | None = None) -> list[int]:
    """Approved bookings not checked in within their grace period become no-shows; the slot is freed."""
    now = now or utcnow()
    late = session.exec(
        select(Booking, Resource.no_show_grace_minutes)
        .join(Resource, col(Resource.id) == Booking.resource_id)
        .where(
            Booking.status == BookingStatus.approved,
            col(Booking.parent_id).is_(None),
            col(Booking.starts_at) < now,
        )
    ).all()
    marked: list[int] = []
    for booking, grace in late:
        assert booking.starts_at is not None and booking.ends_at is not None
        if booking.starts_at + timedelta(minutes=grace) > now:
            continue
        _set_status(session, booking, BookingStatus.no_show)
        record_event(
            session,
            booking,
            Action.no_show.value,
            BookingStatus.approved,
            None,
            f"not checked in within {grace} minutes of the start",
            at=now,
        )
        notify_booking(session, booking, "booking.no_show")
        interlock.lock_after(session, booking, now=now, unlocked_only=True)
        if booking.ends_at > now:
            session.flush()
            promote(session, booking.resource_id or 0, Interval(now, booking.ends_at), now)
        marked.append(booking.id or 0)
    return marked


def cancellation_fees(
    session: Session, who: Principal, bookings: list[Booking], now: datetime | None = None
) -> dict[int, Decimal]:
    """What cancelling each booking now would cost `who` (shown before they press the button)."""
    now = now or utcnow()
    platforms: dict[int, Platform] = {}
    fees = {}
    for booking in bookings:
        if booking.starts_at is None or booking.ends_at is None or booking.id is None:
            continue
        platform = platforms.setdefault(
            booking.platform_id, get_or_404(session, Platform, booking.platform_id, "platform")
        )
        staff = can_manage_platform(who, booking.platform_id) and booking.user_id != who.user_id
        fees[booking.id] = cancellation_fee(
            Interval(booking.starts_at, booking.ends_at),
            now,
            platform.cancellation_free_hours,
            platform.cancellation_fee_percent,
            booking.estimated_price,
            by_staff=staff,
        )
    return fees
