"""Optimizer runs: open flexible requests of a platform in, approved bookings out.

A run reads the platform (one short transaction), solves with no database connection held, then
writes every accepted placement in one transaction, re-checking each slot with the booking path's own
judge (`check_slot`) and against other bookings: whatever was booked in the meantime wins, and the
request is reported unplaced with that reason.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.db import unit_of_work, writer
from backend.domain.access import Principal, Role, can_see_tenant_row, ensure_manages_platform, ensure_not_sme
from backend.domain.bookings import BookingStatus
from backend.domain.errors import AccessDenied, Conflict, Invalid, NotFound
from backend.domain.intervals import Interval
from backend.models.booking import Booking, BookingKind
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.schedule import ScheduleRun, ScheduleRunCreate
from backend.models.types import utcnow
from backend.services import audit
from backend.services.bookings.journal import record_event
from backend.services.bookings.rules import check_fixed_slot
from backend.services.bookings.slots import lock_resources, save_with_members, slot_conflict
from backend.services.catalog.resources import member_ids
from backend.services.common import get_or_404, page, within_scope
from backend.services.money.rates import price_of
from backend.services.notifications.outbox import notify_booking
from backend.services.scheduling import problems


def build_problem(
    session: Session, platform: Platform, horizon: Interval, now: datetime
) -> problems.PlatformProblem:
    """The platform's open flexible requests over `horizon` as a problem file (see `problems`)."""
    problem, resources, pools = problems.start(session, platform, horizon, now, notice=True)
    zone, horizon = problem.zone, problem.horizon
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
        assert booking.id and booking.window_start and booking.window_end and booking.duration_minutes
        release = problems.ceil_minute(max(booking.window_start, earliest))
        due = problems.floor_minute(min(booking.window_end, horizon.end))
        if due - release < timedelta(minutes=booking.duration_minutes):
            continue  # its window is not in this horizon (or already past): a later run's to place
        candidates, refused = problem.candidates(
            session, booking, booking.candidates or [], booking.duration_minutes
        )
        if not candidates:
            problem.skip(booking.id, "no candidate resource may take it: " + "; ".join(refused))
            continue
        problem.add_request(
            booking.id,
            {
                "id": f"Q{booking.id}",
                "org": problem.org_code(session, booking.organization_id),
                "weight": 1,
                "key_project": booking.key_project,
                "release": problems.iso(release, zone),
                "due": problems.iso(due, zone),
                "deadline": problems.iso(due, zone),
                "steps": [
                    {"id": "s1", "duration_minutes": booking.duration_minutes, "resources": candidates}
                ],
            },
        )
    problems.finish(session, problem, resources, pools, problems.holding_bookings(session, platform, horizon))
    return problem


#: How a run reports a placement that `check_slot` refused (never expected: the problem keeps every rule).
BROKE_A_RULE = "the optimizer's placement breaks a booking rule"


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
        built = build_problem(session, platform, horizon, now)
        problem_dict, mapping = built.data, built.bookings
    began = time.perf_counter()
    problem = parse_problem(problem_dict)
    plan = plan_to_dict(solve(problem, time_limit=data.time_limit, workers=2, seed=0), problem)
    seconds = time.perf_counter() - began

    with unit_of_work(writer(engine)) as session:
        placed: list[dict[str, Any]] = []
        unplaced = [*built.skipped] + [
            {"booking_id": mapping[u["request"]], "reason": u["reason"]}
            for u in plan["unplaced"]
            if u["request"] in mapping
        ]
        if data.apply:
            resources = {
                r.code: r for r in session.exec(select(Resource).where(Resource.platform_id == platform.id))
            }
            for a in plan["assignments"]:
                if a["request"] not in mapping:
                    continue
                booking_id = mapping[a["request"]]
                reason = _place(session, who, booking_id, resources[a["resource"]], platform, a, now)
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
    platform: Platform,
    assignment: dict[str, Any],
    now: datetime,
) -> str | None:
    """Turn one placement into an approved booking; the reason it could not be, or None."""
    zone = ZoneInfo(platform.timezone)
    booking = session.get(Booking, booking_id)
    if booking is None or booking.status != BookingStatus.requested or booking.starts_at is not None:
        return "the request changed while the optimizer ran"
    slot = Interval(datetime.fromisoformat(assignment["start"]), datetime.fromisoformat(assignment["end"]))
    members = member_ids(session, resource.id or 0)
    try:
        # The same judge as a person's booking; the problem was built to pass it, this keeps it honest.
        check_fixed_slot(
            session, problems.requester_of(booking), resource, platform, slot, now, members=members
        )
    except (Invalid, AccessDenied) as exc:
        return f"{BROKE_A_RULE}: {exc.message}"
    lock_resources(session, [resource.id or 0, *members])
    found = slot_conflict(session, [resource.id or 0, *members], slot)
    if found is not None:
        start, end = problems.iso(found.start, zone), problems.iso(found.end, zone)
        return f"{found.resource} was booked from {start} to {end} meanwhile"
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
        f"placed on {resource.code} from {problems.iso(slot.start, zone)}",
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


def confirm_run(session: Session, who: Principal, run_id: int, now: datetime | None = None) -> ScheduleRun:
    """Turn a reviewed proposal (a run made with `apply: false`) into approved bookings, exactly as it
    was shown: each placement is re-checked as a run's own are, and one that no longer fits (the request
    changed, the slot was taken) is reported unplaced with the reason instead."""
    now = now or utcnow()
    run = get_run(session, who, run_id)
    ensure_manages_platform(who, run.platform_id)
    if run.applied:
        raise Conflict("status: this plan is already confirmed")
    platform = get_or_404(session, Platform, run.platform_id, "platform")
    resources = {r.code: r for r in session.exec(select(Resource).where(Resource.platform_id == platform.id))}
    placed, unplaced = [], list(run.unplaced)
    for proposal in run.placed:
        resource = resources.get(proposal["resource"])
        reason = (
            _place(session, who, proposal["booking_id"], resource, platform, proposal, now)
            if resource is not None
            else f"resource {proposal['resource']} no longer exists"
        )
        if reason is None:
            placed.append(proposal)
        else:
            unplaced.append({"booking_id": proposal["booking_id"], "reason": reason})
    run.sqlmodel_update({"applied": True, "placed": placed, "unplaced": unplaced})
    session.add(run)
    session.flush()
    audit.append(
        session,
        "schedule.confirm",
        ("schedule_run", run.id or 0),
        actor=who.user_id,
        platform_id=run.platform_id,
        payload={
            "placed": [p["booking_id"] for p in placed],
            "unplaced": [u["booking_id"] for u in unplaced],
        },
    )
    return run
