"""Availability queries: load a resource's calendar and ask the domain for its free time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import bindparam, true, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from backend.db import AsyncReader
from backend.domain.availability import Calendar, free_intervals, free_intervals_of_line
from backend.domain.bookings import HOLDS_SLOT
from backend.domain.errors import Invalid, NotFound
from backend.domain.intervals import Interval
from backend.models.booking import Booking, status_in
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
    asked = {"resource_id": resource_id, "start": window.start, "end": window.end}
    rows = session.exec(_blocked_with_parameters(maintenance, bookings), params=asked).all()
    return _intervals(rows, session.get_bind().dialect)


@cache
def _blocked_with_parameters(maintenance: bool, bookings: bool) -> Any:
    """`_blocked_statement` built once per kind, with parameters: every booking asks it."""
    return _blocked_statement(
        bindparam("resource_id"),
        bindparam("start"),
        bindparam("end"),
        maintenance=maintenance,
        bookings=bookings,
    )


def _blocked_statement(resource_id: Any, start: Any, end: Any, *, maintenance: bool, bookings: bool) -> Any:
    """Rows (s, e) of maintenance windows and/or slot-holding bookings overlapping `window`."""
    in_maintenance: Any = select(
        col(MaintenanceWindow.start).label("s"), col(MaintenanceWindow.end).label("e")
    ).where(
        MaintenanceWindow.resource_id == resource_id,
        col(MaintenanceWindow.start) < end,
        col(MaintenanceWindow.end) > start,
    )
    booked: Any = select(col(Booking.starts_at).label("s"), col(Booking.ends_at).label("e")).where(
        Booking.resource_id == resource_id,
        status_in(HOLDS_SLOT),
        col(Booking.starts_at) < end,
        col(Booking.ends_at) > start,
    )
    if maintenance:
        return union_all(in_maintenance, booked) if bookings else in_maintenance
    return booked


def _intervals(rows: Iterable[Any], dialect: Any) -> list[Interval]:
    column = UTCDateTime()
    out = []
    for start, end in rows:
        # Through a UNION, SQLite hands back the stored text; the column type restores aware UTC.
        start = column.process_result_value(_as_datetime(start), dialect)
        end = column.process_result_value(_as_datetime(end), dialect)
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


@dataclass(frozen=True)
class Free:
    """A resource's free time in a window, in its platform's zone."""

    resource_id: int
    resource: str
    zone: ZoneInfo
    window: Interval
    free: list[Interval]

    def as_json(self) -> bytes:
        """The public answer (`Availability` in the OpenAPI document), encoded at once: this is the
        catalog's busiest query, and building pydantic models for it cost more than computing it."""
        zone = self.zone
        return _encode(
            {
                "resource_id": self.resource_id,
                "resource": self.resource,
                "timezone": str(zone),
                "start": self.window.start.astimezone(zone),
                "end": self.window.end.astimezone(zone),
                "free": [
                    {
                        "start": iv.start.astimezone(zone),
                        "end": iv.end.astimezone(zone),
                        "minutes": int(iv.duration.total_seconds() // 60),
                    }
                    for iv in self.free
                ],
            }
        )


_encode = msgspec.json.Encoder().encode


@cache
def _calendar_statement() -> Any:
    """A resource's calendar settings joined with what blocks it in [start, end): built once, with
    parameters, so that a query costs no statement building either."""
    resource_id: Any = bindparam("resource_id")
    start: Any = bindparam("start")
    end: Any = bindparam("end")
    blocked = _blocked_statement(resource_id, start, end, maintenance=True, bookings=True).subquery()
    return (
        sa_select(
            col(Resource.kind),
            col(Resource.code),
            col(Resource.status),
            col(Resource.opening_hours),
            col(Platform.opening_hours),
            col(Platform.timezone),
            blocked.c.s,
            blocked.c.e,
        )
        .select_from(Resource)
        .join(Platform, col(Platform.id) == col(Resource.platform_id))
        .outerjoin(blocked, true())
        .where(col(Resource.id) == resource_id)
    )


def availability(connection: Connection, resource_id: int, window: Interval) -> Free:
    """Free intervals: opening hours minus maintenance windows and bookings. For an instrument this is
    one statement (the calendar's settings joined with what blocks it) and no ORM objects: the public
    catalog's busiest query, where every round trip to the database counts."""
    check_window(window)
    rows = connection.execute(
        _calendar_statement(), {"resource_id": resource_id, "start": window.start, "end": window.end}
    ).all()
    found = _free_of_instrument(rows, resource_id, window, connection.dialect)
    if found is not None:
        return found
    code, own = rows[0][1], _own_calendar(rows, connection.dialect)
    with Session(bind=connection) as session:
        platform = session.exec(select(Platform).join(Resource).where(Resource.id == resource_id)).one()
        members = [
            calendar_of(session, get_resource(session, m), window, platform=platform)
            for m in member_ids(session, resource_id)
        ]
    return Free(resource_id, code, own.zone, window, free_intervals_of_line(own, members, window))


async def instrument_availability(reader: AsyncReader, resource_id: int, window: Interval) -> Free | None:
    """`availability` on the event loop (PostgreSQL), for anything but a line: None for a line, whose
    members' calendars `availability` reads in a session."""
    check_window(window)
    sql = _calendar_sql(reader.dialect)
    rows = await reader.rows(sql, {"resource_id": resource_id, "start": window.start, "end": window.end})
    return _free_of_instrument(rows, resource_id, window, reader.dialect)


@cache
def _calendar_sql(dialect: Any) -> str:
    return str(_calendar_statement().compile(dialect=dialect))


def _free_of_instrument(rows: Sequence[Any], resource_id: int, window: Interval, dialect: Any) -> Free | None:
    """The answer from `_calendar_statement`'s rows; None when the resource is a line."""
    if not rows:
        raise NotFound(f"resource {resource_id} does not exist")
    if rows[0][0] == ResourceKind.line:
        return None
    own = _own_calendar(rows, dialect)
    return Free(resource_id, rows[0][1], own.zone, window, free_intervals(own, window))


def _own_calendar(rows: Sequence[Any], dialect: Any) -> Calendar:
    _kind, _code, status, hours, platform_hours, timezone = rows[0][:6]
    return Calendar(
        hours=hours if hours is not None else platform_hours,
        zone=ZoneInfo(timezone),
        blocked=_intervals(((row[6], row[7]) for row in rows), dialect),
        usable=status == ResourceStatus.active,
    )
