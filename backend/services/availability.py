"""Availability queries: load a resource's calendar and ask the domain for its free time."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.domain.availability import Calendar, free_intervals, free_intervals_of_line
from backend.domain.bookings import HOLDS_SLOT
from backend.domain.errors import Invalid
from backend.domain.intervals import Interval
from backend.models.booking import Booking
from backend.models.platform import Platform
from backend.models.resource import MaintenanceWindow, Resource, ResourceKind, ResourceStatus
from backend.services.resources import get_resource, member_ids

MAX_WINDOW = timedelta(days=93)


def busy_intervals(session: Session, resource_id: int, window: Interval) -> list[Interval]:
    """Slot-holding bookings of the resource that overlap `window`."""
    rows = session.exec(
        select(Booking.starts_at, Booking.ends_at).where(
            Booking.resource_id == resource_id,
            col(Booking.status).in_([s.value for s in HOLDS_SLOT]),
            col(Booking.starts_at) < window.end,
            col(Booking.ends_at) > window.start,
        )
    ).all()
    return [Interval(s, e) for s, e in rows if s and e]


def calendar_of(
    session: Session, resource: Resource, window: Interval, *, with_bookings: bool = True
) -> Calendar:
    platform = session.get(Platform, resource.platform_id)
    assert platform is not None  # foreign key
    blocked = [
        Interval(m.start, m.end)
        for m in session.exec(
            select(MaintenanceWindow).where(
                MaintenanceWindow.resource_id == resource.id,
                col(MaintenanceWindow.start) < window.end,
                col(MaintenanceWindow.end) > window.start,
            )
        )
    ]
    if with_bookings:
        blocked += busy_intervals(session, resource.id or 0, window)
    return Calendar(
        hours=resource.opening_hours if resource.opening_hours is not None else platform.opening_hours,
        zone=ZoneInfo(platform.timezone),
        blocked=blocked,
        usable=resource.status == ResourceStatus.active,
    )


def check_window(window: Interval) -> None:
    if window.duration > MAX_WINDOW:
        raise Invalid("to", f"ask for at most {MAX_WINDOW.days} days at a time")


def availability(
    session: Session, resource_id: int, window: Interval
) -> tuple[Resource, ZoneInfo, list[Interval]]:
    check_window(window)
    resource = get_resource(session, resource_id)
    own = calendar_of(session, resource, window)
    if resource.kind == ResourceKind.line:
        members = [
            calendar_of(session, get_resource(session, m), window) for m in member_ids(session, resource_id)
        ]
        return resource, own.zone, free_intervals_of_line(own, members, window)
    return resource, own.zone, free_intervals(own, window)
