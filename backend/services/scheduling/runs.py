"""Optimizer runs: open flexible requests of a platform in, approved bookings out.

A run reads the platform (one short transaction), solves with no database connection held, then
writes every accepted placement in one transaction, re-checking each slot: whatever was booked in
the meantime wins, and the request is reported unplaced with that reason.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.db import unit_of_work, writer
from backend.domain.access import Principal, Role, can_see_tenant_row, ensure_manages_platform, ensure_not_sme
from backend.domain.availability import opening_periods
from backend.domain.bookings import HOLDS_SLOT, BookingStatus
from backend.domain.errors import Conflict, NotFound
from backend.domain.intervals import Interval
from backend.models.booking import Booking, BookingKind
from backend.models.organization import Organization
from backend.models.platform import Platform
from backend.models.resource import Resource, ResourceStatus
from backend.models.schedule import ScheduleRun, ScheduleRunCreate
from backend.models.types import utcnow
from backend.services import audit
from backend.services.bookings.journal import record_event
from backend.services.bookings.slots import lock_resources, save_with_members, slot_conflict
from backend.services.catalog.availability import calendar_of
from backend.services.catalog.resources import member_ids
from backend.services.common import get_or_404, page, within_scope
from backend.services.money.rates import price_of
from backend.services.notifications.outbox import notify_booking


def _iso(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def build_problem(
    session: Session, platform: Platform, horizon: Interval, now: datetime
) -> tuple[dict[str, Any], dict[str, int]]:
    """The contract's problem file for `platform`, and which booking each request id stands for."""
    zone = ZoneInfo(platform.timezone)
    resources = list(
        session.exec(
            select(Resource).where(
                Resource.platform_id == platform.id, Resource.status == ResourceStatus.active
            )
        )
    )
    problem_resources = []
    for resource in resources:
        calendar = calendar_of(session, resource, horizon, with_bookings=False)
        problem_resources.append(
            {
                "id": resource.code,
                "open": [
                    [_iso(p.start, zone), _iso(p.end, zone)] for p in opening_periods(calendar, horizon)
                ],
                "unavailable": [[_iso(b.start, zone), _iso(b.end, zone)] for b in calendar.blocked],
                "unattended": resource.unattended,
            }
        )
    codes = {r.id: r.code for r in resources}
    fixed = []
    for booking in session.exec(
        select(Booking).where(
            Booking.platform_id == platform.id,
            col(Booking.status).in_([s.value for s in HOLDS_SLOT]),
            col(Booking.starts_at) < horizon.end,
            col(Booking.ends_at) > horizon.start,
        )
    ):
        if booking.resource_id in codes and booking.starts_at and booking.ends_at:
            fixed.append(
                {
                    "request": f"B{booking.id}",
                    "step": "s1",
                    "resource": codes[booking.resource_id],
                    "start": _iso(booking.starts_at, zone),
                    "end": _iso(booking.ends_at, zone),
                }
            )
    org_codes = dict(session.exec(select(Organization.id, Organization.code)).all())
    requests, mapping = [], {}
    earliest = max(horizon.start, now)
    for booking in session.exec(
        select(Booking)
        .where(
            Booking.platform_id == platform.id,
            Booking.kind == BookingKind.flexible,
            Booking.status == BookingStatus.requested,
            col(Booking.starts_at).is_(None),
        )
        .order_by(col(Booking.requested_at))
    ):
        assert booking.window_start and booking.window_end and booking.duration_minutes
        release, due = max(booking.window_start, earliest), min(booking.window_end, horizon.end)
        candidates = [c for c in booking.candidates or [] if c in codes.values()]
        if due <= release or not candidates:
            continue
        rid = f"Q{booking.id}"
        mapping[rid] = booking.id or 0
        requests.append(
            {
                "id": rid,
                "org": org_codes.get(booking.organization_id, "") if booking.organization_id else "",
                "weight": 1,
                "key_project": booking.key_project,
                "release": _iso(release, zone),
                "due": _iso(due, zone),
                "deadline": _iso(due, zone),
                "steps": [
                    {"id": "s1", "duration_minutes": booking.duration_minutes, "resources": candidates}
                ],
            }
        )
    problem = {
        "horizon": {"start": _iso(horizon.start, zone), "end": _iso(horizon.end, zone)},
        "resources": problem_resources,
        "requests": requests,
        "fixed": fixed,
        "objective": "default",
    }
    return problem, mapping


def run_schedule(
    engine: Engine, who: Principal, data: ScheduleRunCreate, now: datetime | None = None
) -> ScheduleRun:
    # OR-Tools is heavy: it loads when the optimizer first runs, not with every API process.
    from scheduler.io import plan_to_dict
    from scheduler.problem import parse_problem
    from scheduler.solve import solve

    now = now or utcnow()
    horizon = Interval(data.horizon_start, data.horizon_end)
    with unit_of_work(engine) as session:
        platform = get_or_404(session, Platform, data.platform_id, "platform")
        ensure_manages_platform(who, data.platform_id)
        problem_dict, mapping = build_problem(session, platform, horizon, now)
        zone = ZoneInfo(platform.timezone)
    began = time.perf_counter()
    problem = parse_problem(problem_dict)
    plan = plan_to_dict(solve(problem, time_limit=data.time_limit, workers=2, seed=0), problem)
    seconds = time.perf_counter() - began

    with unit_of_work(writer(engine)) as session:
        placed, unplaced = (
            [],
            [
                {"booking_id": mapping[u["request"]], "reason": u["reason"]}
                for u in plan["unplaced"]
                if u["request"] in mapping
            ],
        )
        if data.apply:
            resources = {
                r.code: r for r in session.exec(select(Resource).where(Resource.platform_id == platform.id))
            }
            for a in plan["assignments"]:
                if a["request"] not in mapping:
                    continue
                booking_id = mapping[a["request"]]
                reason = _place(session, who, booking_id, resources[a["resource"]], a, zone, now)
                if reason is None:
                    placed.append(
                        {
                            "booking_id": booking_id,
                            "resource": a["resource"],
                            "start": a["start"],
                            "end": a["end"],
                        }
                    )
                else:
                    unplaced.append({"booking_id": booking_id, "reason": reason})
        else:
            placed = [
                {
                    "booking_id": mapping[a["request"]],
                    "resource": a["resource"],
                    "start": a["start"],
                    "end": a["end"],
                }
                for a in plan["assignments"]
                if a["request"] in mapping
            ]
        run = ScheduleRun(
            platform_id=data.platform_id,
            created_by_id=who.user_id,
            created_at=now,
            horizon_start=data.horizon_start,
            horizon_end=data.horizon_end,
            time_limit=data.time_limit,
            applied=data.apply,
            status=plan["status"],
            objective=plan["objective"],
            bound=plan["bound"],
            seconds=round(seconds, 3),
            kpis=plan["kpis"],
            placed=placed,
            unplaced=unplaced,
            problem=problem_dict,
        )
        session.add(run)
        session.flush()
        audit.append(
            session,
            "schedule.run",
            ("schedule_run", run.id or 0),
            actor=who.user_id,
            platform_id=data.platform_id,
            payload={
                "horizon_start": data.horizon_start,
                "horizon_end": data.horizon_end,
                "applied": data.apply,
                "status": plan["status"],
                "placed": [p["booking_id"] for p in placed],
                "unplaced": [u["booking_id"] for u in unplaced],
            },
        )
        return run


def _place(
    session: Session,
    who: Principal,
    booking_id: int,
    resource: Resource,
    assignment: dict[str, Any],
    zone: ZoneInfo,
    now: datetime,
) -> str | None:
    """Turn one placement into an approved booking; the reason it could not be, or None."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.status != BookingStatus.requested or booking.starts_at is not None:
        return "the request changed while the optimizer ran"
    slot = Interval(datetime.fromisoformat(assignment["start"]), datetime.fromisoformat(assignment["end"]))
    members = member_ids(session, resource.id or 0)
    lock_resources(session, [resource.id or 0, *members])
    found = slot_conflict(session, [resource.id or 0, *members], slot)
    if found is not None:
        return (
            f"{found.resource} was booked from {_iso(found.start, zone)} to {_iso(found.end, zone)} meanwhile"
        )
    booking.sqlmodel_update(
        {
            "resource_id": resource.id,
            "starts_at": slot.start,
            "ends_at": slot.end,
            "status": BookingStatus.approved,
            "decided_at": now,
            "decided_by_id": who.user_id,
            "source": "scheduler",
            "decision_reason": "placed by the optimizer",
            "estimated_price": price_of(session, resource.id or 0, booking.user_class, slot),
        }
    )
    try:
        save_with_members(session, booking, members, zone)
    except Conflict as exc:
        session.refresh(booking)
        return exc.message
    record_event(
        session,
        booking,
        "schedule",
        BookingStatus.requested,
        who.user_id,
        f"placed on {resource.code} from {_iso(slot.start, zone)}",
    )
    notify_booking(session, booking, "booking.approved")
    return None


def list_runs(
    session: Session, who: Principal, platform_id: int | None, offset: int, limit: int
) -> tuple[list[ScheduleRun], int]:
    statement = select(ScheduleRun).order_by(col(ScheduleRun.created_at).desc())
    ensure_not_sme(who, "optimizer runs")
    statement = within_scope(statement, who, ScheduleRun.platform_id)
    if platform_id is not None:
        statement = statement.where(ScheduleRun.platform_id == platform_id)
    return page(session, statement, offset, limit)


def get_run(session: Session, who: Principal, run_id: int) -> ScheduleRun:
    run = get_or_404(session, ScheduleRun, run_id, "schedule run")
    if who.role is Role.sme or not can_see_tenant_row(who, run.platform_id, None):
        raise NotFound(f"schedule run {run_id} does not exist")
    return run
