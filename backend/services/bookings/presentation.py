"""Bookings as the API and the pages show them (`BookingPublic`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from backend.models.booking import Booking, BookingPublic
from backend.models.resource import Resource


def to_public(session: Session, bookings: Sequence[Booking]) -> list[BookingPublic]:
    ids = {b.resource_id for b in bookings if b.resource_id}
    codes = (
        dict(session.exec(select(Resource.id, Resource.code).where(col(Resource.id).in_(ids))).all())
        if ids
        else {}
    )
    parents = [b.id for b in bookings]
    members: dict[int, list[int]] = {}
    if parents:
        for child_parent, child_resource in session.exec(
            select(Booking.parent_id, Booking.resource_id).where(col(Booking.parent_id).in_(parents))
        ).all():
            members.setdefault(child_parent or 0, []).append(child_resource or 0)
    out = []
    for b in bookings:
        response = (b.decided_at - b.requested_at).total_seconds() / 60 if b.decided_at else None
        out.append(
            BookingPublic(
                **b.model_dump(exclude={"starts_at", "ends_at", "decided_by_id"}, warnings=False),
                resource=codes.get(b.resource_id) if b.resource_id else None,
                start=b.starts_at,
                end=b.ends_at,
                response_minutes=response,
                members=members.get(b.id or 0, []),
            )
        )
    return out
