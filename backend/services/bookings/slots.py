"""Holding a slot: the overlap query, row locks in id order, and the all-or-nothing insert of a line's rows.

Every function runs inside the caller's unit of work. Booking writes must be given a session on
`backend.db.writer(engine)` so SQLite serializes them; PostgreSQL's exclusion constraint is the
final guard there, and a race that reaches it is answered like any other conflict (409).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.domain.bookings import (
    HOLDS_SLOT,
)
from backend.domain.errors import Conflict
from backend.domain.intervals import Interval
from backend.models.booking import Booking, status_in
from backend.models.resource import Resource


@dataclass(frozen=True)
class SlotConflict:
    resource: str
    start: datetime
    end: datetime


def slot_conflict(session: Session, resource_ids: Sequence[int], slot: Interval) -> SlotConflict | None:
    """The first slot-holding booking on any of `resource_ids` that overlaps `slot`."""
    asked = {"resource_ids": list(resource_ids), "start": slot.start, "end": slot.end}
    row = session.exec(_conflict_statement(), params=asked).first()
    if row is None:
        return None
    start, end, code = row
    return SlotConflict(code, start, end)


def lock_resources(session: Session, resource_ids: Sequence[int]) -> None:
    """Make bookings of these resources wait for each other (PostgreSQL row locks, taken in id order).

    Without it, two overlapping inserts each wait in the exclusion constraint for the other to finish,
    and PostgreSQL breaks the deadlock by failing one of them. SQLite needs nothing here: its booking
    transactions already run one at a time (see `backend.db.writer`).
    """
    session.exec(_lock_statement(), params={"resource_ids": sorted(set(resource_ids))}).all()


# Every booking runs these two: built once with parameters, so a booking spends nothing on building them.


@cache
def _conflict_statement() -> Any:
    return (
        select(col(Booking.starts_at), col(Booking.ends_at), col(Resource.code))
        .join(Resource, col(Resource.id) == Booking.resource_id)
        .where(
            col(Booking.resource_id).in_(bindparam("resource_ids", expanding=True)),
            status_in(HOLDS_SLOT),
            col(Booking.starts_at) < bindparam("end"),
            col(Booking.ends_at) > bindparam("start"),
        )
        .order_by(col(Booking.starts_at))
        .limit(1)
    )


@cache
def _lock_statement() -> Any:
    return (
        select(Resource.id)
        .where(col(Resource.id).in_(bindparam("resource_ids", expanding=True)))
        .order_by(col(Resource.id))
        .with_for_update()
    )


def raise_conflict(found: SlotConflict, zone: ZoneInfo) -> None:
    start, end = found.start.astimezone(zone), found.end.astimezone(zone)
    raise Conflict(
        f"{found.resource} is already booked from {start.isoformat()} to {end.isoformat()}",
        conflict={"resource": found.resource, "start": start.isoformat(), "end": end.isoformat()},
    )


def save_with_members(session: Session, booking: Booking, members: list[int], zone: ZoneInfo) -> None:
    """Insert or update the booking and add, for a line, one child row per instrument: all or nothing."""
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
            for member in members:
                session.add(
                    Booking.model_validate(
                        booking, update={"id": None, "resource_id": member, "parent_id": booking.id}
                    )
                )
            session.flush()
    except IntegrityError:
        # Another transaction took the slot between our check and our insert (PostgreSQL only).
        assert booking.starts_at is not None and booking.ends_at is not None
        slot = Interval(booking.starts_at, booking.ends_at)
        found = slot_conflict(session, [booking.resource_id or 0, *members], slot)
        if found is None:
            raise
        raise_conflict(found, zone)
