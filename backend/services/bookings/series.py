"""Recurring bookings (RFC 5545 rules): each occurrence is checked on its own; conflicts are listed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlmodel import Session

from backend.domain.access import Principal
from backend.domain.errors import DomainError, Invalid
from backend.domain.intervals import Interval
from backend.models.booking import Booking, SeriesCreate
from backend.models.platform import Platform
from backend.models.types import utcnow
from backend.services.bookings.requesting import book_fixed, who_books
from backend.services.catalog.resources import get_resource

MAX_OCCURRENCES = 200
MAX_SPAN = timedelta(days=366)


def occurrences(rule: str, first: datetime, zone: ZoneInfo) -> list[datetime]:
    """Start times in wall-clock time of the platform's zone, so 09:00 stays 09:00 across DST."""
    local = first.astimezone(zone).replace(tzinfo=None)
    try:
        recurrence = rrulestr(rule.removeprefix("RRULE:"), dtstart=local)
    except (ValueError, TypeError) as exc:
        raise Invalid("recurrence", f"not an RFC 5545 rule: {exc}") from None
    starts: list[datetime] = []
    for moment in recurrence:
        if len(starts) == MAX_OCCURRENCES or moment - local > MAX_SPAN:
            break
        starts.append(moment.replace(tzinfo=zone))
    if not starts:
        raise Invalid("recurrence", "the rule yields no occurrence")
    return starts


def book_series(
    session: Session, who: Principal, data: SeriesCreate, now: datetime | None = None
) -> tuple[str, list[Booking], list[dict[str, str]]]:
    now = now or utcnow()
    resource = get_resource(session, data.resource_id)
    platform = session.get(Platform, resource.platform_id)
    assert platform is not None
    who_books(session, who, platform)  # one refusal for the whole series, not one "conflict" per occurrence
    zone = ZoneInfo(platform.timezone)
    series_id = uuid.uuid4().hex[:16]
    length = data.end - data.start
    created: list[Booking] = []
    conflicts: list[dict[str, str]] = []
    for start in occurrences(data.recurrence, data.start, zone):
        slot = Interval(start, start + length)
        try:
            with session.begin_nested():
                created.append(
                    book_fixed(
                        session, who, data.resource_id, slot, data, now, source="series", series_id=series_id
                    )
                )
        except DomainError as exc:
            conflicts.append(
                {"start": slot.start.isoformat(), "end": slot.end.isoformat(), "reason": exc.message}
            )
    return series_id, created, conflicts
