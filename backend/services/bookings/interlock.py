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


def _to_unlock(session: Session, booking: Booking, at: UnlockAt, now: datetime) -> list[Resource]:
    if booking.id is None or booking.ends_at is None or booking.ends_at <= now:
        return []
    return [
        resource
        for resource, policy in _interlocked(session, booking)
        if policy.unlock_at is at and not _asked(session, booking.id, resource.id or 0, CommandAction.unlock)
    ]


def _to_lock(session: Session, booking: Booking, unlocked_only: bool) -> list[Resource]:
    if booking.id is None:
        return []
    out = []
    for resource, _ in _interlocked(session, booking):
        rid = resource.id or 0
        if _asked(session, booking.id, rid, CommandAction.lock):
            continue
        if unlocked_only and not _asked(session, booking.id, rid, CommandAction.unlock):
            continue
        out.append(resource)
    return out


def unlock_for(
    session: Session,
    booking: Booking,
    at: UnlockAt,
    who: int | None = None,
    now: datetime | None = None,
) -> int:
    """Unlock the booking's interlocked instruments whose policy unlocks at `at`; valid until its end."""
    now = now or utcnow()
    resources = _to_unlock(session, booking, at, now)
    for resource in resources:
        assert booking.ends_at is not None
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
    return len(resources)


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
    resources = _to_lock(session, booking, unlocked_only)
    for resource in resources:
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
    return len(resources)


_LIVE = [BookingStatus.approved.value, BookingStatus.checked_in.value]


def _bookings_on_interlocked(session: Session, *conditions: Any, lock: bool = False) -> list[Booking]:
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
    # Locked, a booking checked out meanwhile is seen as completed and left alone (PostgreSQL re-reads
    # a locked row), and a second sweep waits for the first and finds its commands.
    return list(session.exec(query.with_for_update(of=Booking) if lock else query))


def due(session: Session, now: datetime, lock: bool = False) -> tuple[list[Booking], list[Booking]]:
    """Bookings whose start unlocks an instrument now (`unlock_at: start`), and bookings that ended
    still checked in (or approved) whose unlocked instruments are not locked again yet."""
    running = _bookings_on_interlocked(
        session,
        col(Booking.status).in_(_LIVE),
        col(Booking.starts_at) <= now,
        col(Booking.ends_at) > now,
        lock=lock,
    )
    ended = _bookings_on_interlocked(
        session,
        col(Booking.status).in_(_LIVE),
        col(Booking.ends_at) <= now,
        col(Booking.ends_at) > now - SWEEP_LOOKBACK,
        lock=lock,
    )
    return (
        [b for b in running if _to_unlock(session, b, UnlockAt.start, now)],
        [b for b in ended if _to_lock(session, b, unlocked_only=True)],
    )


def sweep(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """Issue what `due` finds; returns (unlocks, locks) issued."""
    now = now or utcnow()
    to_unlock, to_lock = due(session, now, lock=True)
    unlocks = sum(unlock_for(session, b, UnlockAt.start, now=now) for b in to_unlock)
    locks = sum(lock_after(session, b, now=now, unlocked_only=True) for b in to_lock)
    return unlocks, locks
