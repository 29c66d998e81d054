"""Bookings as the API and the pages show them (`BookingPublic`), every time in the platform's zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.models.booking import Booking, BookingPublic
from backend.models.platform import Platform
from backend.models.resource import Resource


def _in_zone(values: dict[str, object], zone: ZoneInfo) -> dict[str, object]:
    return {k: v.astimezone(zone) if isinstance(v, datetime) else v for k, v in values.items()}


def to_public(session: Session, bookings: Sequence[Booking]) -> list[BookingPublic]:
    ids = {b.resource_id for b in bookings if b.resource_id}
    codes = (
        dict(session.exec(select(Resource.id, Resource.code).where(col(Resource.id).in_(ids))).all())
        if ids
        else {}
    )
    platform_ids = {b.platform_id for b in bookings}
    zones = {
        pid: ZoneInfo(tz)
        for pid, tz in session.exec(
            select(Platform.id, Platform.timezone).where(col(Platform.id).in_(platform_ids))
        ).all()
    }
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
        values = b.model_dump(exclude={"starts_at", "ends_at", "decided_by_id"}, warnings=False)
        values.update(start=b.starts_at, end=b.ends_at)
        out.append(
            BookingPublic(
                **_in_zone(values, zones[b.platform_id]),
                resource=codes.get(b.resource_id) if b.resource_id else None,
                response_minutes=response,
                members=members.get(b.id or 0, []),
            )
        )
    return out
