"""Repairs over stored bookings: when a resource is out of service (a maintenance window added over
bookings, or a fault ingest reports) or an urgent request must be fitted in, the scheduler's repair
proposes the fewest moves of the platform's bookings, each with its reason; an operator applies or
dismisses the proposal, and the SMEs whose bookings move are told their new time.

One use case serves every cause: `propose(engine, who, event)`, with `Outage(resource_id, start, end,
cause)` or `Urgent(booking_id)`; `who` None is the system (ingest, on a resource going to `fault`).

What may move: bookings (requested with a slot, or approved) starting after now plus their resource's
minimum notice, within the horizon; each stays on its resource (a flexible request's may go to another
of its candidates), never earlier than booked (or its window), on the rules of `check_slot` — the
problem is built by `problems`. What cannot (it runs, it starts within the notice, or it fits nowhere
in the horizon) is listed in `needs_person` and left to the operator.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from backend.db import unit_of_work, writer
from backend.domain.access import Principal, Role, can_see_tenant_row, ensure_manages_platform, ensure_not_sme
from backend.domain.bookings import HOLDS_SLOT, BookingStatus
from backend.domain.errors import AccessDenied, Conflict, Invalid, NotFound
from backend.domain.intervals import Interval
from backend.models.booking import Booking, BookingKind, status_in
from backend.models.platform import Platform
from backend.models.resource import MaintenanceWindow, MaintenanceWindowCreate, Resource, ResourceMember
from backend.models.schedule import RepairCause, RepairStatus, ScheduleRepair
from backend.models.types import utcnow
from backend.services import audit
from backend.services.bookings.journal import record_event
from backend.services.bookings.rules import check_fixed_slot
from backend.services.bookings.slots import lock_resources, save_with_members, slot_conflict
from backend.services.catalog.resources import add_maintenance, get_resource, member_ids
from backend.services.common import get_or_404, page, within_scope
from backend.services.money.rates import price_of
from backend.services.notifications.outbox import notify_booking
from backend.services.scheduling import problems

#: Bookings a repair may move: they hold a slot nobody has started using.
MOVABLE = (BookingStatus.requested, BookingStatus.approved)


@dataclass(frozen=True)
class Outage:
    """`resource_id` out of service over [start, end): maintenance, or a fault."""

    resource_id: int
    start: datetime
    end: datetime
    cause: RepairCause = RepairCause.fault
    maintenance_window_id: int | None = None
    fault_id: int | None = None  # the fault episode ingest saw (`resource_fault`)


@dataclass(frozen=True)
class Urgent:
    """A flexible request (usually a key project) to fit in now, moving others if need be."""

    booking_id: int


Event = Outage | Urgent


@dataclass
class _Built:
    problem: problems.PlatformProblem
    current: list[dict[str, Any]] = field(default_factory=list)  # {"request", "resource", "start", "end"}
    affected: list[int] = field(default_factory=list)
    needs_person: list[dict[str, Any]] = field(default_factory=list)
    urgent: dict[str, Any] | None = None
    bookings: dict[int, Booking] = field(default_factory=dict)


def _minutes(booking: Booking) -> int:
    assert booking.starts_at is not None and booking.ends_at is not None
    return math.ceil((booking.ends_at - booking.starts_at).total_seconds() / 60)


def _hit_resources(session: Session, resource: Resource) -> set[int]:
    """The resource and every pilot line it belongs to: what its outage stops."""
    lines = session.exec(select(ResourceMember.line_id).where(ResourceMember.member_id == resource.id)).all()
    return {resource.id or 0, *lines}


def _horizon(session: Session, event: Event, now: datetime, horizon_days: int) -> Interval:
    """From the earliest booking the event touches (not before now) to `horizon_days` after the event:
    bookings move later, never earlier than booked, so nothing before the event needs to move."""
    if isinstance(event, Outage):
        hit = affected_by(session, event.resource_id, Interval(event.start, event.end))
        starts = [b.starts_at for b in (session.get(Booking, i) for i in hit) if b and b.starts_at]
        start, end = min([event.start, *starts]), event.end
    else:
        booking = get_or_404(session, Booking, event.booking_id, "booking")
        start, end = booking.window_start or now, booking.window_end or now
    start = max(now, start)
    return Interval(start, max(start, end) + timedelta(days=horizon_days))


def _build(session: Session, platform: Platform, event: Event, now: datetime, horizon_days: int) -> _Built:
    outages: dict[int, list[Interval]] = {}
    hit: set[int] = set()
    if isinstance(event, Outage):
        outages[event.resource_id] = [Interval(event.start, event.end)]
        hit = _hit_resources(session, get_resource(session, event.resource_id))
    horizon = _horizon(session, event, now, horizon_days)
    problem, resources, pools = problems.start(session, platform, horizon, now, notice=True, outages=outages)
    built = _Built(problem)
    zone, h0 = problem.zone, problem.horizon.start
    held = problems.holding_bookings(session, platform, problem.horizon)
    codes = {r.id: code for code, r in problem.resources.items()}
    for booking in held:
        if booking.parent_id is not None:
            continue
        assert booking.id is not None and booking.starts_at is not None and booking.ends_at is not None
        built.bookings[booking.id] = booking
        is_hit = isinstance(event, Outage) and booking.resource_id in hit
        if is_hit and booking.starts_at < event.end and booking.ends_at > event.start:  # type: ignore[union-attr]
            built.affected.append(booking.id)
        resource = problem.resources.get(codes.get(booking.resource_id, ""))
        ready = (
            resource is not None
            and booking.starts_at >= now + timedelta(minutes=resource.min_notice_minutes)
            and booking.starts_at >= problem.horizon.start
        )
        if resource is None or booking.status not in MOVABLE or not ready:
            if booking.id in built.affected:
                built.needs_person.append(
                    {"booking_id": booking.id, "reason": _frozen(booking, resource is None, ready)}
                )
            continue
        start = problems.floor_minute(booking.starts_at)
        release, deadline = start, problem.horizon.end
        candidates = [resource.code]
        if booking.kind == BookingKind.flexible and booking.window_start and booking.window_end:
            release = min(start, max(problems.ceil_minute(booking.window_start), h0))
            deadline = max(booking.ends_at, min(booking.window_end, problem.horizon.end))
            allowed, _ = problem.candidates(session, booking, booking.candidates or [], _minutes(booking))
            candidates += [c for c in allowed if c != resource.code]
        problem.add_request(
            booking.id,
            {
                "id": f"B{booking.id}",
                "org": problem.org_code(session, booking.organization_id),
                "key_project": booking.key_project,
                "release": problems.iso(release, zone),
                "due": problems.iso(problems.ceil_minute(booking.ends_at), zone),
                "deadline": problems.iso(problems.floor_minute(deadline), zone),
                "steps": [{"id": "s1", "duration_minutes": _minutes(booking), "resources": candidates}],
            },
        )
        built.current.append(
            {
                "request": f"B{booking.id}",
                "step": "s1",
                "resource": resource.code,
                "start": problems.iso(start, zone),
                "end": problems.iso(start + timedelta(minutes=_minutes(booking)), zone),
            }
        )
    if isinstance(event, Urgent):
        built.urgent = _urgent_request(session, problem, event, now)
    problems.finish(session, problem, resources, pools, held)
    return built


def _frozen(booking: Booking, inactive: bool, ready: bool) -> str:
    if inactive:
        return "its resource is not in service; cancel it or rebook it with the SME"
    if booking.status not in MOVABLE:
        return f"it is {booking.status}; it cannot be moved"
    return "it starts within its resource's minimum notice; cancel it or rebook it with the SME"


def _urgent_request(
    session: Session, problem: problems.PlatformProblem, event: Urgent, now: datetime
) -> dict[str, Any]:
    booking = get_or_404(session, Booking, event.booking_id, "booking")
    if booking.platform_id != problem.platform.id:
        raise Invalid("booking_id", f"booking {booking.id} belongs to another platform")
    if booking.kind != BookingKind.flexible or booking.status != BookingStatus.requested or booking.starts_at:
        raise Invalid("booking_id", f"booking {booking.id} is not an open flexible request")
    assert booking.window_start and booking.window_end and booking.duration_minutes
    release = problems.ceil_minute(max(booking.window_start, problem.horizon.start, now))
    deadline = problems.floor_minute(min(booking.window_end, problem.horizon.end))
    if deadline - release < timedelta(minutes=booking.duration_minutes):
        raise Invalid("booking_id", f"the window of booking {booking.id} has no room left in the horizon")
    candidates, refused = problem.candidates(
        session, booking, booking.candidates or [], booking.duration_minutes
    )
    if not candidates:
        raise Invalid("booking_id", "no candidate resource may take it: " + "; ".join(refused))
    zone = problem.zone
    problem.bookings[f"Q{booking.id}"] = booking.id or 0
    return {
        "id": f"Q{booking.id}",
        "org": problem.org_code(session, booking.organization_id),
        "key_project": True,
        "release": problems.iso(release, zone),
        "due": problems.iso(deadline, zone),
        "deadline": problems.iso(deadline, zone),
        "steps": [{"id": "s1", "duration_minutes": booking.duration_minutes, "resources": candidates}],
    }


def _scheduler_event(built: _Built, event: Event) -> dict[str, Any] | None:
    zone = built.problem.zone
    if isinstance(event, Urgent):
        return {"kind": "urgent", "request": built.urgent}
    codes = {r.id: code for code, r in built.problem.resources.items()}
    code = codes.get(event.resource_id)
    if code is None:
        return None  # the resource is not in service at all: nothing can be placed on it anyway
    start = max(event.start, built.problem.horizon.start)
    return {
        "kind": "fault",
        "resource": code,
        "start": problems.iso(problems.floor_minute(start), zone),
        "end": problems.iso(problems.ceil_minute(max(event.end, start + timedelta(minutes=1))), zone),
    }


def _why(built: _Built, event: Event, booking_id: int, scheduler_reason: str) -> str:
    if isinstance(event, Outage) and booking_id in built.affected:
        resource_code = next(c for c, r in built.problem.resources.items() if r.id == event.resource_id)
        zone = built.problem.zone
        return (
            f"{resource_code} is out of service ({event.cause.value}) from "
            f"{problems.iso(event.start, zone)} to {problems.iso(event.end, zone)}"
        )
    return scheduler_reason


def propose(
    engine: Engine,
    who: Principal | None,
    event: Event,
    *,
    horizon_days: int = 14,
    time_limit: float = 5.0,
    max_moves: int | None = None,
    now: datetime | None = None,
) -> ScheduleRepair:
    """A repair proposal for `event`, stored; `who` None: the system (no access check)."""
    # OR-Tools is heavy: it loads when a repair is first asked for.
    from scheduler.problem import parse_assignments, parse_problem
    from scheduler.repair import parse_event, repair

    now = now or utcnow()
    with unit_of_work(engine) as session:
        if isinstance(event, Outage):
            platform_id = get_resource(session, event.resource_id).platform_id
        else:
            platform_id = get_or_404(session, Booking, event.booking_id, "booking").platform_id
        if who is not None:
            ensure_manages_platform(who, platform_id)
        platform = get_or_404(session, Platform, platform_id, "platform")
        built = _build(session, platform, event, now, horizon_days)
    zone, codec_problem = built.problem.zone, parse_problem(built.problem.data)
    began = time.perf_counter()
    moves: list[dict[str, Any]] = []
    needs_person = list(built.needs_person)
    kpis: dict[str, Any] = {}
    solver_status = "nothing to move"
    scheduler_event = _scheduler_event(built, event)
    if scheduler_event is not None and (built.current or built.urgent):
        current = parse_assignments(built.current, codec_problem)
        result = repair(
            codec_problem,
            current,
            parse_event(scheduler_event, codec_problem),
            now=0,
            time_limit=time_limit,
            workers=2,
            seed=0,
            max_moves=max_moves,
        )
        out = codec_problem.codec.to_output
        solver_status, kpis = result.plan.status, dict(result.plan.kpis)
        bookings = built.problem.bookings
        for move in result.moved:
            booking = built.bookings[bookings[move.request]]
            if move.after is None:
                reason = _why(built, event, booking.id or 0, "it fits nowhere else within the horizon")
                needs_person.append({"booking_id": booking.id, "reason": reason})
                continue
            moves.append(
                {
                    "booking_id": booking.id,
                    "from": _slot(booking, zone),
                    "to": {
                        "resource": move.after.resource,
                        "start": out(move.after.start),
                        "end": out(move.after.start + _minutes(booking)),
                    },
                    "reason": _why(built, event, booking.id or 0, move.reason),
                }
            )
        if isinstance(event, Urgent):
            placed = next((a for a in result.plan.assignments if a.request == f"Q{event.booking_id}"), None)
            if placed is None:
                why = next(
                    (u.reason for u in result.plan.unplaced if u.request == f"Q{event.booking_id}"), ""
                )
                raise Conflict(f"booking_id: the urgent request cannot be fitted in: {why}")
            moves.append(
                {
                    "booking_id": event.booking_id,
                    "from": None,
                    "to": {"resource": placed.resource, "start": out(placed.start), "end": out(placed.end)},
                    "reason": "the urgent request, placed",
                }
            )
    seconds = round(time.perf_counter() - began, 3)
    with unit_of_work(writer(engine)) as session:
        proposal = ScheduleRepair(
            platform_id=platform_id,
            cause=event.cause if isinstance(event, Outage) else RepairCause.urgent,
            resource_id=event.resource_id if isinstance(event, Outage) else None,
            event_start=event.start if isinstance(event, Outage) else None,
            event_end=event.end if isinstance(event, Outage) else None,
            booking_id=event.booking_id if isinstance(event, Urgent) else None,
            maintenance_window_id=event.maintenance_window_id if isinstance(event, Outage) else None,
            fault_id=event.fault_id if isinstance(event, Outage) else None,
            created_by_id=who.user_id if who else None,
            created_at=now,
            horizon_start=built.problem.horizon.start,
            horizon_end=built.problem.horizon.end,
            solver_status=solver_status,
            seconds=seconds,
            affected=built.affected,
            moves=moves,
            needs_person=needs_person,
            kpis=kpis,
            problem={"problem": built.problem.data, "current": built.current, "event": scheduler_event},
        )
        session.add(proposal)
        session.flush()
        audit.append(
            session,
            "schedule.repair.propose",
            ("schedule_repair", proposal.id or 0),
            actor=who.user_id if who else None,
            platform_id=platform_id,
            payload={
                "cause": proposal.cause,
                "resource_id": proposal.resource_id,
                "booking_id": proposal.booking_id,
                "affected": built.affected,
                "moves": [m["booking_id"] for m in moves],
                "needs_person": [n["booking_id"] for n in needs_person],
            },
        )
        return proposal


def _slot(booking: Booking, zone: ZoneInfo) -> dict[str, Any]:
    assert booking.starts_at is not None and booking.ends_at is not None
    code = booking.resource_id
    return {
        "resource_id": code,
        "start": problems.iso(booking.starts_at, zone),
        "end": problems.iso(booking.ends_at, zone),
    }


# --- deciding ----------------------------------------------------------------------------------------


def _proposed(session: Session, who: Principal | None, repair_id: int) -> ScheduleRepair:
    if who is None:  # the system, applying by the platform's policy
        proposal = get_or_404(session, ScheduleRepair, repair_id, "repair")
    else:
        proposal = get_repair(session, who, repair_id)
        ensure_manages_platform(who, proposal.platform_id)
    if proposal.status != RepairStatus.proposed:
        raise Conflict(f"status: this repair was {proposal.status} already")
    return proposal


def apply(
    session: Session,
    who: Principal | None,
    repair_id: int,
    reason: str | None = None,
    now: datetime | None = None,
) -> ScheduleRepair:
    """Move the bookings as proposed, all or nothing: each new slot is judged again by `check_slot` and
    against other bookings as of now; a booking that changed since the proposal makes it stale (409).
    `who` None: the system, applying a fault's repair by the platform's policy."""
    now = now or utcnow()
    proposal = _proposed(session, who, repair_id)
    platform = get_or_404(session, Platform, proposal.platform_id, "platform")
    zone = ZoneInfo(platform.timezone)
    resources = {r.code: r for r in session.exec(select(Resource).where(Resource.platform_id == platform.id))}
    moving: list[tuple[Booking, dict[str, Any]]] = []
    for move in proposal.moves:
        booking = get_or_404(session, Booking, move["booking_id"], "booking")
        before = move["from"]
        if before is None:
            still = booking.status == BookingStatus.requested and booking.starts_at is None
        else:
            still = (
                booking.status in MOVABLE
                and booking.resource_id == before["resource_id"]
                and booking.starts_at is not None
                and problems.iso(booking.starts_at, zone) == before["start"]
            )
        if not still:
            raise Conflict(f"booking {booking.id} changed since this repair was proposed; propose a new one")
        moving.append((booking, move))
    involved = {r for b, m in moving for r in (b.resource_id, resources[m["to"]["resource"]].id) if r}
    lock_resources(session, [*involved, *(m for r in involved for m in member_ids(session, r))])
    for booking, _ in moving:  # free every old slot first: two bookings may swap places
        if booking.starts_at is not None:
            session.exec(delete(Booking).where(col(Booking.parent_id) == booking.id))
            booking.starts_at = booking.ends_at = None
            session.add(booking)
    session.flush()
    for booking, move in moving:
        _place(session, who, booking, move, resources[move["to"]["resource"]], platform, now)
    actor = who.user_id if who else None
    proposal.status = RepairStatus.applied
    proposal.decided_at, proposal.decided_by_id, proposal.decision_reason = now, actor, reason
    session.add(proposal)
    audit.append(
        session,
        "schedule.repair.apply",
        ("schedule_repair", proposal.id or 0),
        actor=actor,
        platform_id=proposal.platform_id,
        payload={"moves": [m["booking_id"] for m in proposal.moves], "reason": reason},
    )
    session.flush()
    return proposal


def _place(
    session: Session,
    who: Principal | None,
    booking: Booking,
    move: dict[str, Any],
    resource: Resource,
    platform: Platform,
    now: datetime,
) -> None:
    zone = ZoneInfo(platform.timezone)
    slot = Interval(datetime.fromisoformat(move["to"]["start"]), datetime.fromisoformat(move["to"]["end"]))
    members = member_ids(session, resource.id or 0)
    try:
        requester = problems.requester_of(booking)
        check_fixed_slot(session, requester, resource, platform, slot, now, booking.id, members)
    except (Invalid, AccessDenied) as exc:
        raise Conflict(f"booking {booking.id} cannot move to {resource.code} now: {exc.message}") from None
    found = slot_conflict(session, [resource.id or 0, *members], slot)
    if found is not None:
        raise Conflict(f"booking {booking.id}: {found.resource} was booked meanwhile; propose a new repair")
    urgent = move["from"] is None
    before = booking.status
    actor = who.user_id if who else None
    changes: dict[str, Any] = {
        "resource_id": resource.id,
        "starts_at": slot.start,
        "ends_at": slot.end,
        "estimated_price": price_of(session, resource.id or 0, booking.user_class, slot),
    }
    if urgent:
        changes.update(
            status=BookingStatus.approved,
            decided_at=now,
            decided_by_id=actor,
            source="repair",
            decision_reason="placed by a repair",
        )
    booking.sqlmodel_update(changes)
    save_with_members(session, booking, members, zone)
    when = f"{problems.iso(slot.start, zone)} to {problems.iso(slot.end, zone)} on {resource.code}"
    if urgent:
        record_event(session, booking, "schedule", before, actor, f"placed by a repair: {when}")
        notify_booking(session, booking, "booking.approved")
    else:
        record_event(session, booking, "move", before, actor, f"moved to {when}: {move['reason']}")
        notify_booking(session, booking, "booking.moved")


def dismiss(session: Session, who: Principal, repair_id: int, reason: str | None = None) -> ScheduleRepair:
    proposal = _proposed(session, who, repair_id)
    proposal.status = RepairStatus.dismissed
    proposal.decided_at, proposal.decided_by_id, proposal.decision_reason = utcnow(), who.user_id, reason
    session.add(proposal)
    audit.append(
        session,
        "schedule.repair.dismiss",
        ("schedule_repair", proposal.id or 0),
        actor=who.user_id,
        platform_id=proposal.platform_id,
        payload={"reason": reason},
    )
    session.flush()
    return proposal


# --- reading and the maintenance path ------------------------------------------------------------------


def get_repair(session: Session, who: Principal, repair_id: int) -> ScheduleRepair:
    proposal = get_or_404(session, ScheduleRepair, repair_id, "repair")
    if who.role is Role.sme or not can_see_tenant_row(who, proposal.platform_id, None):
        raise NotFound(f"repair {repair_id} does not exist")
    return proposal


def list_repairs(
    session: Session,
    who: Principal,
    platform_id: int | None,
    status: RepairStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[ScheduleRepair], int]:
    ensure_not_sme(who, "repairs")
    statement = within_scope(
        select(ScheduleRepair).order_by(col(ScheduleRepair.created_at).desc()),
        who,
        ScheduleRepair.platform_id,
    )
    if platform_id is not None:
        statement = statement.where(ScheduleRepair.platform_id == platform_id)
    if status is not None:
        statement = statement.where(ScheduleRepair.status == status)
    return page(session, statement, offset, limit)


def affected_by(session: Session, resource_id: int, window: Interval) -> list[int]:
    """Bookings holding a slot on the resource (or a pilot line it belongs to) that overlaps `window`."""
    hit = _hit_resources(session, get_resource(session, resource_id))
    rows = session.exec(
        select(Booking.id)
        .where(
            col(Booking.resource_id).in_(hit),
            col(Booking.parent_id).is_(None),
            status_in(HOLDS_SLOT),
            col(Booking.starts_at) < window.end,
            col(Booking.ends_at) > window.start,
        )
        .order_by(col(Booking.starts_at))
    ).all()
    return [i for i in rows if i is not None]


def add_maintenance_window(
    engine: Engine, who: Principal, resource_id: int, data: MaintenanceWindowCreate
) -> tuple[MaintenanceWindow, list[int], ScheduleRepair | None]:
    """Add the window; when it lies over bookings, list them and propose a repair moving them."""
    with unit_of_work(writer(engine)) as session:
        window = add_maintenance(session, who, resource_id, data)
        affected = affected_by(session, resource_id, Interval(window.start, window.end))
        session.expunge(window)
    proposal = None
    if affected:
        outage = Outage(resource_id, window.start, window.end, RepairCause.maintenance, window.id)
        proposal = propose(engine, who, outage)
    return window, affected, proposal
