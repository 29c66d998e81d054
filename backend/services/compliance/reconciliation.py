"""Bookings against measured use for one platform and period: every booking that was meant to run, its
booked and used time and its categories (on time, late start, overrun, early finish, no-show), and the
use nobody booked; filters and a seeded random sample for spot checks (backend/domain/reconciliation.py).

Read-only; auditors and admins see every platform, operators their own, SMEs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.domain.access import Principal, can_see_tenant_row, ensure_not_sme
from backend.domain.errors import AccessDenied, Invalid
from backend.domain.reconciliation import MAX_SAMPLE, Category, Reconciled, reconcile, sample
from backend.models.booking import Booking, status_in
from backend.models.organization import Organization
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.models.usage import UsageSession, UsageSessionPublic
from backend.services.compliance.reports import check_dates, period_of
from backend.services.telemetry import usage_reading
from backend.services.telemetry.usage import MATCHED_STATUSES


@dataclass(frozen=True)
class BookingLine:
    id: int
    resource: str
    organization_id: int | None
    organization: str
    organization_en: str | None
    status: str
    start: datetime
    end: datetime
    used_minutes: float
    booked_minutes: float
    late_start_minutes: float | None
    overrun_minutes: float
    early_finish_minutes: float | None
    categories: tuple[Category, ...]


@dataclass(frozen=True)
class Query:
    platform: str
    first: date
    last: date
    category: Category | None = None
    resource: str | None = None
    organization_id: int | None = None


@dataclass
class Reconciliation:
    platform: Platform
    bookings: list[BookingLine]  # after the filters
    unbooked: list[UsageSessionPublic]  # use without a booking (shown unless another category is asked)
    counts: dict[Category, int] = field(default_factory=dict)  # per category, before the category filter
    resources: list[str] = field(default_factory=list)
    organizations: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # id: (name, name_en)


def _platform(session: Session, who: Principal, code: str) -> Platform:
    ensure_not_sme(who, "reconciliations")
    platform = session.exec(select(Platform).where(Platform.code == code)).first()
    if platform is None:
        raise Invalid("platform", f"unknown platform code {code!r}")
    if not can_see_tenant_row(who, platform.id, None):
        raise AccessDenied("operators see the reconciliation of their own platform only")
    return platform


def _line(
    row: Booking, result: Reconciled, resource: str, organization: tuple[str, str | None]
) -> BookingLine:
    assert row.id is not None and row.starts_at is not None and row.ends_at is not None
    f = result.figures
    order = list(Category)
    return BookingLine(
        id=row.id,
        resource=resource,
        organization_id=row.organization_id,
        organization=organization[0],
        organization_en=organization[1],
        status=str(row.status),
        start=row.starts_at,
        end=row.ends_at,
        used_minutes=f.used_minutes,
        booked_minutes=f.booked_minutes,
        late_start_minutes=f.late_start_minutes,
        overrun_minutes=f.overrun_minutes,
        early_finish_minutes=result.early_finish_minutes,
        categories=tuple(sorted(result.categories, key=order.index)),
    )


def reconciliation(session: Session, who: Principal, q: Query, now: datetime | None = None) -> Reconciliation:
    """Every top-level booking of the platform meant to run (approved, checked in, completed, no-show)
    whose slot meets the period, with its figures and categories; then the filters."""
    check_dates(q.first, q.last)
    now = now or utcnow()
    platform = _platform(session, who, q.platform)
    period = period_of(q.first, q.last, ZoneInfo(platform.timezone))
    codes = {r.id: r.code for r in session.exec(select(Resource).where(Resource.platform_id == platform.id))}
    rows = session.exec(
        select(Booking)
        .where(
            Booking.platform_id == platform.id,
            col(Booking.parent_id).is_(None),
            status_in(MATCHED_STATUSES),
            col(Booking.starts_at) < period.end,
            col(Booking.ends_at) > period.start,
        )
        .order_by(col(Booking.starts_at), col(Booking.id))
    ).all()
    matched: dict[int, list[tuple[datetime, datetime]]] = {}
    ids = [b.id for b in rows if b.id is not None]
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for s in session.exec(
            select(UsageSession).where(
                col(UsageSession.booking_id).in_(chunk), col(UsageSession.short).is_(False)
            )
        ):
            public = usage_reading.to_public(s, codes.get(s.resource_id, ""))
            matched.setdefault(s.booking_id or 0, []).append((public.start, public.end))
    org_ids = {b.organization_id for b in rows if b.organization_id is not None}
    organizations = {
        o.id or 0: (o.name, o.name_en)
        for o in session.exec(select(Organization).where(col(Organization.id).in_(org_ids or {0})))
    }
    lines = [
        _line(
            b,
            reconcile((b.starts_at, b.ends_at), matched.get(b.id or 0, []), now),
            codes.get(b.resource_id or 0, ""),
            organizations.get(b.organization_id or 0, ("", None)),
        )
        for b in rows
        if b.starts_at is not None and b.ends_at is not None
    ]
    if q.resource:
        lines = [b for b in lines if b.resource == q.resource]
    if q.organization_id is not None:
        lines = [b for b in lines if b.organization_id == q.organization_id]
    unbooked = usage_reading.sessions(
        session, start=period.start, end=period.end, platform_id=platform.id, booked=False
    )
    if q.resource:
        unbooked = [s for s in unbooked if s.resource == q.resource]
    counts = {c: sum(c in b.categories for b in lines) for c in Category}
    counts[Category.unbooked] = len(unbooked)
    if q.category is not None:
        lines = [b for b in lines if q.category in b.categories]
        if q.category is not Category.unbooked:
            unbooked = []
    if q.organization_id is not None:
        unbooked = []  # nobody's organization: use without a booking belongs to none
    return Reconciliation(
        platform=platform,
        bookings=lines,
        unbooked=unbooked,
        counts=counts,
        resources=sorted(set(codes.values())),
        organizations=dict(sorted(organizations.items(), key=lambda kv: kv[1][0])),
    )


def spot_check(found: Reconciliation, n: int, seed: int) -> list[BookingLine]:
    """`n` of the listed bookings at random, reproducible with `seed`."""
    if not 1 <= n <= MAX_SAMPLE:
        raise Invalid("sample", f"give a number from 1 to {MAX_SAMPLE}")
    chosen = set(sample([b.id for b in found.bookings], n, seed))
    return [b for b in found.bookings if b.id in chosen]
