"""`GET /reports/utilization`: per resource and period, opening hours, booked hours, measured use and
their ratios (docs/reports.md, "Utilization"). Four queries whatever the size: resources, maintenance,
bookings, usage sessions; the rest is `backend.domain.utilization`."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.domain.access import Principal
from backend.domain.availability import Calendar, free_intervals
from backend.domain.errors import Invalid
from backend.domain.intervals import Interval
from backend.domain.report import GRANTED
from backend.domain.utilization import MAX_DAYS, Every, Span, cells, periods
from backend.models.booking import Booking
from backend.models.resource import MaintenanceWindow, Resource, ResourceStatus
from backend.models.types import utcnow
from backend.services.compliance.reports import period_of, visible_platforms
from backend.services.telemetry import usage_reading


def utilization(
    session: Session,
    who: Principal,
    platform_code: str,
    first: date,
    last: date,
    every: Every = Every.day,
    now: datetime | None = None,
) -> dict[str, Any]:
    if last < first:
        raise Invalid("to", f"{last.isoformat()} is before from ({first.isoformat()})")
    if (last - first).days >= MAX_DAYS[every]:
        raise Invalid("to", f"ask for at most {MAX_DAYS[every]} days by {every.value}")
    [platform] = visible_platforms(session, who, platform_code)
    zone = ZoneInfo(platform.timezone)
    window = period_of(first, last, zone)
    cuts = periods(first, last, every, zone)
    as_of = now or utcnow()
    resources = list(
        session.exec(
            select(Resource)
            .where(Resource.platform_id == platform.id, Resource.status != ResourceStatus.retired)
            .order_by(col(Resource.code))
        )
    )
    ids = [r.id for r in resources]
    maintenance: dict[int, list[Interval]] = defaultdict(list)  # few: the calendar subtracts them
    for window_of, mstart, mend in session.exec(
        select(MaintenanceWindow.resource_id, MaintenanceWindow.start, MaintenanceWindow.end).where(
            col(MaintenanceWindow.resource_id).in_(ids),
            col(MaintenanceWindow.start) < window.end,
            col(MaintenanceWindow.end) > window.start,
        )
    ):
        maintenance[window_of].append(Interval(mstart, mend))
    booked: dict[int, list[Span]] = defaultdict(list)
    for rid, start, end in session.exec(
        select(Booking.resource_id, Booking.starts_at, Booking.ends_at).where(
            Booking.platform_id == platform.id,
            col(Booking.status).in_(sorted(GRANTED)),
            col(Booking.starts_at) < window.end,
            col(Booking.ends_at) > window.start,
        )
    ):
        if rid is not None and start is not None and end is not None:
            booked[rid].append((start, end))
    used: dict[int, list[Span]] = defaultdict(list)
    for span in usage_reading.spans(
        session, start=window.start, end=window.end, platform_id=platform.id or 0
    ):
        used[span.resource_id].append((span.start, span.end))
    rows = []
    for r in resources:
        assert r.id is not None
        calendar = Calendar(
            hours=r.opening_hours if r.opening_hours is not None else platform.opening_hours,
            zone=zone,
            blocked=maintenance[r.id],
            usable=r.status == ResourceStatus.active,
        )
        opened = [(iv.start, iv.end) for iv in free_intervals(calendar, window)]
        rows.append(
            {
                "resource_id": r.id,
                "resource": r.code,
                "name": r.name,
                "name_en": r.name_en,
                "kind": str(r.kind),
                "status": str(r.status),
                "periods": [_cell(c, zone) for c in cells(cuts, opened, booked[r.id], used[r.id], as_of)],
            }
        )
    return {
        "platform": platform.code,
        "timezone": platform.timezone,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "every": every.value,
        "as_of": as_of.astimezone(zone).isoformat(),
        "periods": [
            {"start": c.start.astimezone(zone).isoformat(), "end": c.end.astimezone(zone).isoformat()}
            for c in cuts
        ],
        "data": rows,
        "count": len(rows),
    }


def _cell(cell: Any, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "start": cell.start.astimezone(zone).isoformat(),
        "open_hours": cell.open_hours,
        "booked_hours": cell.booked_hours,
        "used_hours": cell.used_hours,
        "booked_ratio": cell.booked_ratio,
        "used_ratio": cell.used_ratio,
        "used_of_booked": cell.used_of_booked,
    }
