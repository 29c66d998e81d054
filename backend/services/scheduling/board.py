"""The platform's plan board: every resource over a window with its bookings (by status), maintenance
windows and closed hours, as the operator's Gantt chart shows them. Read-only; three queries whatever
the number of resources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.domain.access import Principal, ensure_manages_platform
from backend.domain.availability import Calendar, opening_periods
from backend.domain.intervals import Interval, subtract
from backend.models.booking import Booking
from backend.models.organization import Organization
from backend.models.platform import Platform
from backend.models.resource import MaintenanceWindow, Resource, ResourceStatus


@dataclass(frozen=True)
class Bar:
    resource_id: int
    start: datetime
    end: datetime
    kind: str  # a booking status, "maintenance" or "closed"
    label: str
    booking_id: int | None = None
    key_project: bool = False


@dataclass(frozen=True)
class Board:
    platform: Platform
    window: Interval
    resources: list[Resource]
    bars: list[Bar]


#: Statuses drawn on the board; rejected and cancelled bookings hold no time.
SHOWN = ("requested", "approved", "checked_in", "completed", "no_show")


def board(session: Session, who: Principal, platform: Platform, window: Interval) -> Board:
    ensure_manages_platform(who, platform.id or 0)
    resources = list(
        session.exec(
            select(Resource)
            .where(Resource.platform_id == platform.id, Resource.status != ResourceStatus.retired)
            .order_by(col(Resource.kind), col(Resource.code))
        )
    )
    ids = [r.id or 0 for r in resources]
    zone = ZoneInfo(platform.timezone)
    bars: list[Bar] = []
    for resource in resources:
        hours = resource.opening_hours if resource.opening_hours is not None else platform.opening_hours
        open_ = opening_periods(Calendar(hours=hours, zone=zone), window)
        bars += [Bar(resource.id or 0, c.start, c.end, "closed", "") for c in subtract([window], open_)]
    for m in session.exec(
        select(MaintenanceWindow).where(
            col(MaintenanceWindow.resource_id).in_(ids),
            col(MaintenanceWindow.start) < window.end,
            col(MaintenanceWindow.end) > window.start,
        )
    ):
        bars.append(Bar(m.resource_id, m.start, m.end, "maintenance", m.reason or ""))
    orgs = dict(session.exec(select(Organization.id, Organization.name)).all())
    for b in session.exec(
        select(Booking).where(
            col(Booking.resource_id).in_(ids),
            col(Booking.status).in_(SHOWN),
            col(Booking.starts_at) < window.end,
            col(Booking.ends_at) > window.start,
        )
    ):
        assert b.starts_at is not None and b.ends_at is not None and b.resource_id is not None
        label = f"#{b.parent_id or b.id} {orgs.get(b.organization_id or 0, '')}".strip()
        bars.append(
            Bar(
                b.resource_id,
                b.starts_at,
                b.ends_at,
                str(b.status),
                label,
                b.parent_id or b.id,
                b.key_project,
            )
        )
    return Board(platform, window, resources, bars)
