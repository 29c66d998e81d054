"""Bookings a maintenance window hits: what the operator must move or cancel before (or after) taking
a resource out of service. A line's booking counts when it holds one of the line's instruments."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.domain.bookings import HOLDS_SLOT
from backend.domain.intervals import Interval
from backend.models.booking import Booking, BookingPublic, status_in
from backend.services.bookings.presentation import to_public


def bookings_hit(session: Session, resource_id: int, windows: list[Interval]) -> list[list[BookingPublic]]:
    """For each window, the slot-holding bookings of the resource that overlap it (a line's booking as
    itself, not its per-instrument parts)."""
    if not windows:
        return []
    rows = list(
        session.exec(
            select(Booking)
            .where(
                Booking.resource_id == resource_id,
                status_in(HOLDS_SLOT),
                col(Booking.starts_at) < max(w.end for w in windows),
                col(Booking.ends_at) > min(w.start for w in windows),
            )
            .order_by(col(Booking.starts_at))
        )
    )
    parents = {b.parent_id for b in rows if b.parent_id is not None}
    owners = (
        {b.id: b for b in session.exec(select(Booking).where(col(Booking.id).in_(parents)))}
        if parents
        else {}
    )
    out = []
    for window in windows:
        hit: dict[int, Booking] = {}
        for b in rows:
            assert b.starts_at is not None and b.ends_at is not None
            if b.starts_at < window.end and b.ends_at > window.start:
                owner = owners.get(b.parent_id, b) if b.parent_id is not None else b
                hit[owner.id or 0] = owner
        out.append(to_public(session, list(hit.values())))
    return out
