"""Availability queries: load a resource's calendar and ask the domain for its free time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import union_all
from sqlmodel import Session, col, select

from backend.domain.availability import Calendar, free_intervals, free_intervals_of_line
from backend.domain.bookings import HOLDS_SLOT
from backend.domain.errors import Invalid, NotFound
from backend.domain.intervals import Interval
from backend.models.booking import Booking
from backend.models.platform import Platform
from backend.models.resource import MaintenanceWindow, Resource, ResourceKind, ResourceStatus
from backend.models.types import UTCDateTime
from backend.services.catalog.resources import get_resource, member_ids

MAX_WINDOW = timedelta(days=93)


def busy_intervals(session: Session, resource_id: int, window: Interval) -> list[Interval]:
    """Slot-holding bookings of the resource that overlap `window`."""
    return _blocked(session, resource_id, window, maintenance=False, bookings=True)


def _blocked(
    session: Session, resource_id: int, window: Interval, *, maintenance: bool, bookings: bool
) -> list[Interval]:
    """Maintenance windows and/or slot-holding bookings overlapping `window`, in one round trip."""
    in_maintenance: Any = select(
        col(MaintenanceWindow.start).label("s"), col(MaintenanceWindow.end).label("e")
    ).where(
        MaintenanceWindow.resource_id == resource_id,
        col(MaintenanceWindow.start) < window.end,
        col(MaintenanceWindow.end) > window.start,
    )
    booked: Any = select(col(Booking.starts_at).label("s"), col(Booking.ends_at).label("e")).where(
        Booking.resource_id == resource_id,
        col(Booking.status).in_([s.value for s in HOLDS_SLOT]),
        col(Booking.starts_at) < window.end,
        col(Booking.ends_at) > window.start,
    )
    statement: Any = booked
    if maintenance:
        statement = union_all(in_maintenance, booked) if bookings else in_maintenance
    column = UTCDateTime()
    out = []
    for start, end in session.exec(statement).all():
        # Through a UNION, SQLite hands back the stored text; the column type restores aware UTC.
        start = column.process_result_value(_as_datetime(start), session.get_bind().dialect)
        end = column.process_result_value(_as_datetime(end), session.get_bind().dialect)
        if start and end:
            out.append(Interval(start, end))
    return out


def _as_datetime(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def calendar_of(
    session: Session,
    resource: Resource,
    window: Interval,
    *,
    with_bookings: bool = True,
    platform: Platform | None = None,
) -> Calendar:
    platform = platform or session.get(Platform, resource.platform_id)
    assert platform is not None  # foreign key
    return Calendar(
        hours=resource.opening_hours if resource.opening_hours is not None else platform.opening_hours,
        zone=ZoneInfo(platform.timezone),
        blocked=_blocked(session, resource.id or 0, window, maintenance=True, bookings=with_bookings),
        usable=resource.status == ResourceStatus.active,
    )


def check_window(window: Interval) -> None:
    if window.duration > MAX_WINDOW:
        raise Invalid("to", f"ask for at most {MAX_WINDOW.days} days at a time")


def availability(
    session: Session, resource_id: int, window: Interval
) -> tuple[Resource, ZoneInfo, list[Interval]]:
    check_window(window)
    row = session.exec(select(Resource, Platform).join(Platform).where(Resource.id == resource_id)).first()
    if row is None:
        raise NotFound(f"resource {resource_id} does not exist")
    resource, platform = row
    own = calendar_of(session, resource, window, platform=platform)
    if resource.kind == ResourceKind.line:
        members = [
            calendar_of(session, get_resource(session, m), window, platform=platform)
            for m in member_ids(session, resource_id)
        ]
        return resource, own.zone, free_intervals_of_line(own, members, window)
    return resource, own.zone, free_intervals(own, window)
