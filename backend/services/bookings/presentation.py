"""Bookings as the API and the pages show them (`BookingPublic`), every time in the platform's zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.models.booking import Booking, BookingPublic
from backend.models.platform import Platform
from backend.models.resource import Resource


def _in_zone(values: dict[str, object], zone: ZoneInfo) -> dict[str, object]:
    return {k: v.astimezone(zone) if isinstance(v, datetime) else v for k, v in values.items()}


_WRITTEN = "pilotshare_bookings_written"


@dataclass(frozen=True)
class _Written:
    booking: Booking
    resource_id: int | None
    code: str
    timezone: str
    members: list[int]


def remember_written(
    session: Session, booking: Booking, resource: Resource, platform: Platform, members: Sequence[int]
) -> None:
    """Note, for this unit of work, what a booking just written with `save_with_members` is shown with
    (its resource's code, its platform's zone, its instruments): `to_public` then reads none of it back."""
    session.info.setdefault(_WRITTEN, {})[booking.id] = _Written(
        booking, resource.id, resource.code, platform.timezone, list(members)
    )


def to_public(session: Session, bookings: Sequence[Booking]) -> list[BookingPublic]:
    remembered: dict[int | None, _Written] = session.info.get(_WRITTEN, {})
    # the same object, not only the same id (SQLite may reuse the id of a row rolled back to a savepoint),
    # still on the resource it was written for
    written = {
        b.id: w
        for b in bookings
        if (w := remembered.get(b.id)) is not None and w.booking is b and w.resource_id == b.resource_id
    }
    codes: dict[int, str] = {w.resource_id or 0: w.code for w in written.values()}
    zones = {w.booking.platform_id: ZoneInfo(w.timezone) for w in written.values()}
    members: dict[int, list[int]] = {i or 0: list(w.members) for i, w in written.items()}
    if ids := {b.resource_id for b in bookings if b.resource_id} - codes.keys():
        query = select(Resource.id, Resource.code).where(col(Resource.id).in_(ids))
        codes.update((rid or 0, code) for rid, code in session.exec(query).all())
    if platform_ids := {b.platform_id for b in bookings} - zones.keys():
        query_zones = select(Platform.id, Platform.timezone).where(col(Platform.id).in_(platform_ids))
        zones.update((pid or 0, ZoneInfo(tz)) for pid, tz in session.exec(query_zones).all())
    if parents := [b.id for b in bookings if b.id not in written]:
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
