"""The sharing-performance report: load a platform's facts for a period, compute, fingerprint.

Everything is read in one consistent snapshot of the database (see `audit.snapshot`), together with
the audit chain's head and its verification, so the report says exactly which log it was computed
from. Figures and their definitions: backend/domain/report.py and docs/reports.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.domain.access import Principal, Role, ensure_not_sme
from backend.domain.audit import canonical_json, jsonable
from backend.domain.errors import AccessDenied, Invalid
from backend.domain.intervals import Interval
from backend.domain.report import (
    BookingFact,
    ResourceFact,
    SessionFact,
    SharingReport,
    sharing_report,
)
from backend.domain.score import Rubric, score
from backend.models.booking import Booking
from backend.models.organization import Organization, OrgKind
from backend.models.platform import Platform
from backend.models.rate import RateCard, RateUnit, UserClass
from backend.models.resource import Resource, ResourceKind
from backend.models.types import utcnow
from backend.services.audit import snapshot, verify_connection
from backend.services.compliance.rubrics import load_rubric
from backend.services.money.rates import price_of
from backend.services.telemetry import checks, usage_reading

MAX_DAYS = 3 * 366


def period_of(first: date, last: date, zone: ZoneInfo) -> Interval:
    """From 00:00 of `first` to 24:00 of `last`, in the platform's wall-clock time, as UTC instants
    (Python subtracts two times of one zone by their wall clocks, which a daylight-saving day breaks)."""
    return Interval(
        datetime.combine(first, time(), zone).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC),
    )


def check_dates(first: date, last: date) -> None:
    if last < first:
        raise Invalid("to", f"{last.isoformat()} is before from ({first.isoformat()})")
    if (last - first).days >= MAX_DAYS:
        raise Invalid("to", f"a report covers at most {MAX_DAYS} days")


def visible_platforms(session: Session, who: Principal | None, code: str | None) -> list[Platform]:
    """The platforms `who` may read reports of (`who` None: the command line, all), or just `code`."""
    if who is not None:
        ensure_not_sme(who, "sharing reports")
    statement = select(Platform).order_by(col(Platform.code))
    if code is not None:
        statement = statement.where(Platform.code == code)
    platforms = list(session.exec(statement))
    if code is not None and not platforms:
        raise Invalid("platform", f"unknown platform code {code!r}")
    if who is not None and who.role is Role.operator:
        if code is not None and platforms[0].id != who.platform_id:
            raise AccessDenied("operators see the report of their own platform only")
        platforms = [p for p in platforms if p.id == who.platform_id]
    return platforms


def _sessions(session: Session, platform_id: int, period: Interval) -> list[SessionFact]:
    """Counted (not short) usage sessions, clipped to the period; an open one lasts to its newest sample."""
    return [
        SessionFact(s.resource_id, s.start, s.end, s.organization_id)
        for s in usage_reading.spans(session, start=period.start, end=period.end, platform_id=platform_id)
    ]


def _bookings(session: Session, platform_id: int, period: Interval, line_ids: set[int]) -> list[BookingFact]:
    """Bookings requested in the period or whose slot touches it."""
    rows = session.exec(
        select(Booking)
        .where(
            Booking.platform_id == platform_id,
            or_(
                (col(Booking.requested_at) >= period.start) & (col(Booking.requested_at) < period.end),
                (col(Booking.starts_at) < period.end) & (col(Booking.ends_at) > period.start),
            ),
        )
        .order_by(col(Booking.id))
    ).all()
    facts = []
    for b in rows:
        price = None
        if b.status == "completed" and b.parent_id is None and b.resource_id and b.starts_at and b.ends_at:
            price = price_of(
                session, b.resource_id, UserClass(b.user_class), Interval(b.starts_at, b.ends_at)
            )
        facts.append(
            BookingFact(
                id=b.id or 0,
                resource_id=b.resource_id,
                top_level=b.parent_id is None,
                books_line=b.resource_id in line_ids,
                organization_id=b.organization_id,
                user_class=str(b.user_class),
                status=str(b.status),
                key_project=b.key_project,
                requested_at=b.requested_at,
                decided_at=b.decided_at,
                decided_by_person=b.decided_by_id is not None,
                sla_due_at=b.sla_due_at,
                start=b.starts_at,
                end=b.ends_at,
                price=price,
            )
        )
    return facts


def _priced(session: Session, platform_id: int, day: date) -> set[int]:
    """Resources with an hourly fee standard for SMEs valid on `day` (what the catalog publishes)."""
    return set(
        session.exec(
            select(RateCard.resource_id)
            .join(Resource, col(Resource.id) == RateCard.resource_id)
            .where(
                Resource.platform_id == platform_id,
                RateCard.user_class == UserClass.external_sme,
                RateCard.unit == RateUnit.hour,
                col(RateCard.valid_from) <= day,
                or_(col(RateCard.valid_to).is_(None), col(RateCard.valid_to) >= day),
            )
        ).all()
    )


def _platform_report(
    session: Session,
    platform: Platform,
    first: date,
    last: date,
    smes: frozenset[int],
    now: datetime,
    audit_ok: bool,
    rubric: Rubric,
) -> dict[str, Any]:
    zone = ZoneInfo(platform.timezone)
    period = period_of(first, last, zone)
    as_of = max(period.start, min(period.end, now))
    priced = _priced(session, platform.id or 0, last)
    resources = [
        ResourceFact(r.id or 0, r.code, r.name, str(r.kind), str(r.status), r.id in priced)
        for r in session.exec(
            select(Resource).where(Resource.platform_id == platform.id).order_by(col(Resource.code))
        )
    ]
    lines = {r.id for r in resources if r.kind == ResourceKind.line}
    sessions = _sessions(session, platform.id or 0, period)
    bookings = _bookings(session, platform.id or 0, period, lines)
    inputs = {
        "platform": platform.code,
        "owner_organization_id": platform.owner_org_id,
        "period": [period.start, period.end],
        "as_of": as_of,
        "sme_organization_ids": sorted(smes),
        "resources": [asdict(r) for r in resources],
        "sessions": [asdict(s) for s in sessions],
        "bookings": [asdict(b) for b in bookings],
    }
    figures = sharing_report(period, platform.owner_org_id, resources, sessions, bookings, smes, as_of)
    report = {
        "platform": platform.code,
        "name": platform.name,
        "timezone": platform.timezone,
        "period": {
            "start": period.start.astimezone(zone).isoformat(),
            "end": period.end.astimezone(zone).isoformat(),
            "days": (last - first).days + 1,
        },
        "as_of": as_of.astimezone(zone).isoformat(),
        "inputs_sha256": hashlib.sha256(canonical_json(jsonable(inputs)).encode()).hexdigest(),
        "counted": {
            "usage_sessions": len(sessions),
            "bookings": len(bookings),
            "instruments": len(figures.resources),
        },
        # what ingest kept out of these figures (docs/ingest.md): samples stamped in the future, samples
        # for months already invoiced (held for review)
        "telemetry_held_back": checks.refusals_between(session, period.start, period.end, platform.id),
        **_figures(figures),
    }
    report["score"] = _score(rubric, report, audit_ok)
    return report


def _score(rubric: Rubric, report: dict[str, Any], audit_ok: bool) -> dict[str, Any]:
    """The rubric applied to the figures of `report` (and the audit chain's verdict, `audit.ok`)."""
    figures = {**report, "audit": {"ok": audit_ok}}

    def figure(path: str) -> object:
        value: object = figures
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                raise Invalid("rubric", f"{rubric.id}: the report has no figure {path!r}")
            value = value[part]
        return value

    return asdict(score(rubric, figure))


def _figures(r: SharingReport) -> dict[str, Any]:
    money = {k: str(v) for k, v in r.income.by_class.items()}
    return {
        "effective_hours": r.effective_hours,
        "external_hours": r.external_hours,
        "sharing_rate": r.sharing_rate,
        "smes_served": r.smes_served,
        "bookings": asdict(r.bookings),
        "response_hours": {
            "ordinary": asdict(r.response_ordinary),
            "green_channel": asdict(r.response_green),
        },
        "booked_vs_actual": {
            "booked_hours": r.booked_hours,
            "used_booked_hours": r.used_booked_hours,
            "utilization": r.utilization,
        },
        "income": {
            "by_user_class": money,
            "internal": str(r.income.internal),
            "external": str(r.income.external),
            "total": str(r.income.total),
            "completed_bookings": r.income.completed_bookings,
            "unpriced_bookings": r.income.unpriced_bookings,
        },
        "resources": [asdict(x) for x in r.resources],
        "key_projects": {"completed": r.key_projects_completed},
        "management": asdict(r.management),
    }


def sharing(
    engine: Engine,
    who: Principal | None,
    first: date,
    last: date,
    platform_code: str | None = None,
    as_of: datetime | None = None,
    rubric_id: str | None = None,
    rubrics_dir: str | None = None,
) -> dict[str, Any]:
    """The sharing report of one platform (or every platform `who` may see) from `first` to `last`
    (whole days, inclusive), with booked time counted up to `as_of` (default: now), scored by the rubric
    `rubric_id` (default: the national one). `who` None: the command line, which sees everything."""
    check_dates(first, last)
    rubric = load_rubric(rubric_id, rubrics_dir)
    if as_of is not None and as_of.tzinfo is None:
        raise Invalid("as_of", "give a time zone, e.g. 2026-12-31T23:59:59+08:00")
    with snapshot(engine) as connection, connection.begin(), Session(bind=connection) as session:
        platforms = visible_platforms(session, who, platform_code)
        smes = frozenset(
            i
            for i in session.exec(select(Organization.id).where(Organization.kind == OrgKind.sme)).all()
            if i is not None
        )
        now = utcnow()
        verdict = verify_connection(connection)
        reports = [
            _platform_report(session, p, first, last, smes, as_of or now, verdict.ok, rubric)
            for p in platforms
        ]
    bad = verdict.first_bad
    return {
        "report": "sharing",
        "from": first.isoformat(),
        "to": last.isoformat(),
        "generated_at": now.isoformat(),
        "audit": {
            "ok": verdict.ok,
            "events": verdict.events,
            "head_seq": verdict.head.seq,
            "head_hash": verdict.head.hash,
            "first_bad": None if bad is None else asdict(bad),
        },
        "platforms": reports,
    }
