"""iCalendar (RFC 5545) feeds: a public busy calendar per resource, a private one per user.

Calendar clients poll a URL and cannot send a bearer header, so the personal feed is read with a
separate long-lived feed token (`backend.services.security.create_feed_token`) that opens nothing else.
The public feed says only when a resource is taken, never by whom or for what.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from backend.domain.access import Principal
from backend.domain.bookings import HOLDS_SLOT, BookingStatus
from backend.models.booking import Booking, BookingEvent, status_in
from backend.models.platform import Platform
from backend.models.resource import MaintenanceWindow, Resource
from backend.models.types import utcnow
from backend.services.catalog.resources import get_resource
from backend.services.common import within_scope

PAST = timedelta(days=90)
FUTURE = timedelta(days=400)
MAX_EVENTS = 2000
UID_DOMAIN = "pilotshare"


@dataclass(frozen=True)
class FeedWindow:
    start: datetime
    end: datetime

    @classmethod
    def around(cls, now: datetime | None = None) -> FeedWindow:
        now = now or utcnow()
        return cls(now - PAST, now + FUTURE)


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//PilotShare//Bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT15M")
    return calendar


def _event(uid: str, start: datetime, end: datetime, summary: str, status: str, modified: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", modified)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("status", status)
    event.add("last-modified", modified)
    event.add("transp", "OPAQUE")
    return event


def ical_status(status: str) -> str:
    return "TENTATIVE" if status == BookingStatus.requested else "CONFIRMED"


def booking_uid(booking_id: int) -> str:
    return f"booking-{booking_id}@{UID_DOMAIN}"


def _last_changes(session: Session, bookings: Sequence[Booking]) -> dict[int, datetime]:
    """When each booking last moved (its newest history entry); member rows of a line use the line's."""
    owners = {b.parent_id or b.id or 0 for b in bookings}
    if not owners:
        return {}
    rows = session.exec(
        select(BookingEvent.booking_id, func.max(BookingEvent.at))
        .where(col(BookingEvent.booking_id).in_(owners))
        .group_by(col(BookingEvent.booking_id))
    ).all()
    return {booking_id: at for booking_id, at in rows}


def _modified(booking: Booking, changes: dict[int, datetime]) -> datetime:
    return changes.get(booking.parent_id or booking.id or 0) or booking.requested_at


SlotRows = Select[Booking, str]


def _slot_bookings(window: FeedWindow) -> SlotRows:
    return (
        select(Booking, Resource.code)
        .join(Resource, col(Resource.id) == Booking.resource_id)
        .where(
            status_in(HOLDS_SLOT),
            col(Booking.starts_at) < window.end,
            col(Booking.ends_at) > window.start,
        )
        .order_by(col(Booking.starts_at), col(Booking.id))
        .limit(MAX_EVENTS)
    )


def _booking_events(session: Session, rows: Sequence[tuple[Booking, str]]) -> list[Event]:
    """One event per booking row (booking, resource code): its time, status and last change."""
    changes = _last_changes(session, [b for b, _ in rows])
    events = []
    for booking, code in rows:
        assert booking.starts_at is not None and booking.ends_at is not None
        events.append(
            _event(
                booking_uid(booking.id or 0),
                booking.starts_at,
                booking.ends_at,
                f"{code} {booking.status}",
                ical_status(booking.status),
                _modified(booking, changes),
            )
        )
    return events


def resource_feed(session: Session, resource_id: int, window: FeedWindow | None = None) -> bytes:
    """Busy blocks of a resource: its slot-holding bookings and maintenance windows, nothing more."""
    window = window or FeedWindow.around()
    resource = get_resource(session, resource_id)
    calendar = _calendar(f"{resource.code} · PilotShare")
    statement = _slot_bookings(window).where(Booking.resource_id == resource_id)
    rows: list[tuple[Booking, str]] = list(session.exec(statement).all())
    for event in _booking_events(session, rows):
        event.add("class", "PUBLIC")
        calendar.add_component(event)
    for window_row in session.exec(
        select(MaintenanceWindow).where(
            MaintenanceWindow.resource_id == resource_id,
            col(MaintenanceWindow.start) < window.end,
            col(MaintenanceWindow.end) > window.start,
        )
    ):
        calendar.add_component(
            _event(
                f"maintenance-{window_row.id}@{UID_DOMAIN}",
                window_row.start,
                window_row.end,
                f"{resource.code} maintenance",
                "CONFIRMED",
                window_row.created_at,
            )
        )
    return bytes(calendar.to_ical())


def _visible_to(statement: SlotRows, who: Principal) -> SlotRows:
    return within_scope(statement, who, Booking.platform_id, Booking.organization_id)


def personal_feed(session: Session, who: Principal, window: FeedWindow | None = None) -> bytes:
    """The caller's organization's bookings (SME) or the platform's (operator), with their details."""
    window = window or FeedWindow.around()
    statement = _visible_to(_slot_bookings(window).where(col(Booking.parent_id).is_(None)), who)
    rows: list[tuple[Booking, str]] = list(session.exec(statement).all())
    platforms = _platform_names(session, {b.platform_id for b, _ in rows})
    calendar = _calendar("PilotShare bookings")
    for (booking, _), event in zip(rows, _booking_events(session, rows), strict=True):
        event.add("class", "PRIVATE")
        event.add("location", platforms.get(booking.platform_id, ""))
        event.add("description", _description(booking))
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _platform_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {
        pid or 0: name
        for pid, name in session.exec(
            select(Platform.id, Platform.name).where(col(Platform.id).in_(wanted))
        ).all()
    }


def _description(booking: Booking) -> str:
    lines = [f"Booking #{booking.id} ({booking.status})", f"Purpose: {booking.purpose}"]
    if booking.project_name:
        lines.append(f"Project: {booking.project_name}")
    if booking.key_project:
        lines.append("Green channel (key project)")
    return "\n".join(lines)
