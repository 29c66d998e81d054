"""Monthly quotas: how many hours an organization may still book on a platform."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.domain.bookings import (
    HOLDS_SLOT,
)
from backend.models.booking import Booking, status_in
from backend.models.platform import Platform
from backend.models.quota import Quota


def quota_hours(session: Session, platform: Platform, organization_id: int | None) -> float | None:
    if organization_id is None or organization_id == platform.owner_org_id:
        return None
    override = session.exec(
        select(Quota).where(Quota.platform_id == platform.id, Quota.organization_id == organization_id)
    ).first()
    return override.hours_per_month if override is not None else platform.default_quota_hours


def month_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, str]:
    local = moment.astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following, f"{local:%Y-%m}"


def hours_used(
    session: Session,
    platform_id: int,
    organization_id: int,
    start: datetime,
    end: datetime,
    exclude: Collection[int] = (),
) -> timedelta:
    """Booked time of the organization's bookings starting in [start, end), but those in `exclude`."""
    statement = select(Booking.starts_at, Booking.ends_at).where(
        Booking.platform_id == platform_id,
        Booking.organization_id == organization_id,
        col(Booking.parent_id).is_(None),
        status_in(HOLDS_SLOT),
        col(Booking.starts_at) >= start,
        col(Booking.starts_at) < end,
    )
    if exclude:
        statement = statement.where(col(Booking.id).not_in(list(exclude)))
    rows = session.exec(statement).all()
    return sum(((e - s) for s, e in rows if s and e), timedelta())
