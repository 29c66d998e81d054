"""The booking journal: every transition as a booking event and an entry in the audit chain."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from backend.models.booking import Booking, BookingEvent
from backend.models.types import utcnow
from backend.services import audit


def record_event(
    session: Session,
    booking: Booking,
    action: str,
    before: str | None,
    actor: int | None,
    reason: str | None = None,
    at: datetime | None = None,
) -> None:
    """`at` is when it happened (the use case's `now`); the audit entry keeps its own append time."""
    assert booking.id is not None
    # A row, not an ORM object: nothing reads the event back as one, and flushing event objects was a
    # tenth of a booking's CPU. The booking's own row is already written (its id is known).
    row = {
        "at": at or utcnow(),
        "booking_id": booking.id,
        "actor_id": actor,
        "action": action,
        "from_status": before,
        "to_status": booking.status,
        "reason": reason,
    }
    session.exec(_insert_event(), params=row)
    audit.append(
        session,
        f"booking.{action}",
        ("booking", booking.id),
        actor=actor,
        platform_id=booking.platform_id,
        payload={
            "from": before,
            "to": booking.status,
            "reason": reason,
            "resource_id": booking.resource_id,
            "organization_id": booking.organization_id,
            "user_class": booking.user_class,
            "key_project": booking.key_project,
            "start": booking.starts_at,
            "end": booking.ends_at,
            "estimated_price": booking.estimated_price,
        },
    )


@cache
def _insert_event() -> Any:
    return insert(BookingEvent.__table__)  # type: ignore[attr-defined]  # the table: a plain Core insert
