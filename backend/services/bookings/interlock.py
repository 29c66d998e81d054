"""Interlock by booking: instruments with the policy on (resource attributes `interlock: true`, `unlock_at:
check_in | start`) are unlocked for a booking's organization while the booking runs and locked again
after it (check-out, the booking's end, a no-show). A line's booking drives its member instruments.

The booking path calls `unlock_for` at check-in and `lock_after` at check-out and on a no-show; the
dispatcher's sweep (`sweep`) unlocks at the start for `unlock_at: start` and locks at the end of bookings
nobody checked out. Each booking asks each instrument at most once for each (the outbox rows say what
was asked already), so a sweep run by two processes, or again, adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from backend.domain.bookings import BookingStatus
from backend.domain.commands import LOCK_LIFETIME, CommandAction, InterlockPolicy, UnlockAt
from backend.models.booking import Booking
from backend.models.command import DeviceCommand
from backend.models.resource import Resource, ResourceAttribute
from backend.models.types import utcnow
from backend.services.catalog.resources import attributes_of
from backend.services.devices import commands

#: how far back the sweep looks for bookings that ended without a check-out
SWEEP_LOOKBACK = timedelta(days=2)


def _interlocked(session: Session, booking: Booking) -> list[tuple[Resource, InterlockPolicy]]:
    """The booking's instruments (a line's members through its child bookings) with the policy on."""
    ids = [booking.resource_id] if booking.resource_id is not None else []
    ids += [
        rid
        for rid in session.exec(select(Booking.resource_id).where(Booking.parent_id == booking.id))
        if rid is not None
    ]
    out = []
    for rid in ids:
        policy = InterlockPolicy.from_attributes(attributes_of(session, rid))
        resource = session.get(Resource, rid)
        if policy.enabled and resource is not None:
            out.append((resource, policy))
    return out


def _asked(session: Session, booking_id: int, resource_id: int, action: CommandAction) -> bool:
    return (
        session.exec(
            select(DeviceCommand.id).where(
                DeviceCommand.booking_id == booking_id,
                DeviceCommand.resource_id == resource_id,
                DeviceCommand.action == action.value,
            )
        ).first()
        is not None
    )


def unlock_for(
    session: Session,
    booking: Booking,
    at: UnlockAt,
    who: int | None = None,
    now: datetime | None = None,
) -> int:
    """Unlock the booking's interlocked instruments whose policy unlocks at `at`; valid until its end."""
    now = now or utcnow()
    if booking.id is None or booking.ends_at is None or booking.ends_at <= now:
        return 0
    issued = 0
    for resource, policy in _interlocked(session, booking):
        if policy.unlock_at is not at or _asked(session, booking.id, resource.id or 0, CommandAction.unlock):
            continue
        commands.issue(
            session,
            resource,
            CommandAction.unlock,
            {},
            booking.ends_at,
            booking_id=booking.id,
            created_by=who,
            now=now,
        )
        issued += 1
    return issued


def lock_after(
    session: Session,
    booking: Booking,
    who: int | None = None,
    now: datetime | None = None,
    unlocked_only: bool = False,
) -> int:
    """Lock the booking's interlocked instruments again (once per booking and instrument); with
    `unlocked_only`, only those the booking had unlocked."""
    now = now or utcnow()
    if booking.id is None:
        return 0
    issued = 0
    for resource, _ in _interlocked(session, booking):
        rid = resource.id or 0
        if _asked(session, booking.id, rid, CommandAction.lock) or (
            unlocked_only and not _asked(session, booking.id, rid, CommandAction.unlock)
        ):
            continue
        commands.issue(
            session,
            resource,
            CommandAction.lock,
            {},
            now + LOCK_LIFETIME,
            booking_id=booking.id,
            created_by=who,
            now=now,
        )
        issued += 1
    return issued


def _bookings_on_interlocked(session: Session, *conditions: Any) -> list[Booking]:
    interlocked = select(ResourceAttribute.resource_id).where(
        ResourceAttribute.name == "interlock",
        ResourceAttribute.value_type == "bool",
        ResourceAttribute.num_value == 1,
    )
    members = select(Booking.parent_id).where(
        col(Booking.parent_id).is_not(None), col(Booking.resource_id).in_(interlocked)
    )
    query = select(Booking).where(
        col(Booking.parent_id).is_(None),
        col(Booking.resource_id).in_(interlocked) | col(Booking.id).in_(members),
        *conditions,
    )
    return list(session.exec(query))


def sweep(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """Unlocks due at a booking's start (`unlock_at: start`) and locks due at the end of bookings still
    checked in (of instruments they unlocked); returns (unlocks, locks) issued."""
    now = now or utcnow()
    unlocks = locks = 0
    running = _bookings_on_interlocked(
        session,
        col(Booking.status).in_([BookingStatus.approved.value, BookingStatus.checked_in.value]),
        col(Booking.starts_at) <= now,
        col(Booking.ends_at) > now,
    )
    for booking in running:
        unlocks += unlock_for(session, booking, UnlockAt.start, now=now)
    ended = _bookings_on_interlocked(
        session,
        col(Booking.status).in_([BookingStatus.approved.value, BookingStatus.checked_in.value]),
        col(Booking.ends_at) <= now,
        col(Booking.ends_at) > now - SWEEP_LOOKBACK,
    )
    for booking in ended:
        locks += lock_after(session, booking, now=now, unlocked_only=True)
    return unlocks, locks
