"""Booking use cases: request, decide, use, cancel; the operator queue; no-show sweeps.

Every function runs inside the caller's unit of work. Booking writes must be given a session on
`backend.db.writer(engine)` so SQLite serializes them; PostgreSQL's exclusion constraint is the
final guard there, and a race that reaches it is answered like any other conflict (409).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.domain.access import Principal, Role, ensure_can_write, ensure_manages_platform
from backend.domain.availability import opening_periods
from backend.domain.bookings import (
    FINAL,
    HOLDS_SLOT,
    Action,
    AutoApproval,
    BookingFacts,
    BookingStatus,
    SlotRules,
    auto_approves,
    cancellation_fee,
    check_fits_calendar,
    check_in_window,
    check_quota,
    check_slot_shape,
    ensure_may,
    hourly_price,
    next_status,
    queue_key,
    sla_due,
)
from backend.domain.errors import AccessDenied, Conflict, Invalid, NotFound
from backend.domain.intervals import Interval
from backend.models.booking import (
    Booking,
    BookingCreate,
    BookingEvent,
    BookingKind,
    BookingPublic,
    Quota,
)
from backend.models.platform import Platform
from backend.models.rate import RateCard, RateUnit, UserClass
from backend.models.resource import Resource, ResourceStatus
from backend.models.types import utcnow
from backend.services import audit
from backend.services.availability import calendar_of
from backend.services.common import get_or_404, page
from backend.services.notifications import notify_booking
from backend.services.qualifications import is_qualified
from backend.services.resources import get_resource, member_ids


@dataclass(frozen=True)
class SlotConflict:
    resource: str
    start: datetime
    end: datetime


def slot_conflict(session: Session, resource_ids: Sequence[int], slot: Interval) -> SlotConflict | None:
    """The first slot-holding booking on any of `resource_ids` that overlaps `slot`."""
    row = session.exec(
        select(Booking, Resource.code)
        .join(Resource, col(Resource.id) == Booking.resource_id)
        .where(
            col(Booking.resource_id).in_(resource_ids),
            col(Booking.status).in_([s.value for s in HOLDS_SLOT]),
            col(Booking.starts_at) < slot.end,
            col(Booking.ends_at) > slot.start,
        )
        .order_by(col(Booking.starts_at))
    ).first()
    if row is None:
        return None
    booking, code = row
    assert booking.starts_at is not None and booking.ends_at is not None
    return SlotConflict(code, booking.starts_at, booking.ends_at)


DECLARATION = ("purpose", "project_name", "sample_description", "hazardous", "hazard_details")


def declaration_of(data: object) -> dict[str, Any]:
    """What the requester declared (purpose, project, samples, hazards), from any payload carrying it."""
    return {name: getattr(data, name) for name in DECLARATION}


def lock_resources(session: Session, resource_ids: Sequence[int]) -> None:
    """Make bookings of these resources wait for each other (PostgreSQL row locks, taken in id order).

    Without it, two overlapping inserts each wait in the exclusion constraint for the other to finish,
    and PostgreSQL breaks the deadlock by failing one of them. SQLite needs nothing here: its booking
    transactions already run one at a time (see `backend.db.writer`).
    """
    session.exec(
        select(Resource.id)
        .where(col(Resource.id).in_(sorted(set(resource_ids))))
        .order_by(col(Resource.id))
        .with_for_update()
    ).all()


def _raise_conflict(found: SlotConflict, zone: ZoneInfo) -> None:
    start, end = found.start.astimezone(zone), found.end.astimezone(zone)
    raise Conflict(
        f"{found.resource} is already booked from {start.isoformat()} to {end.isoformat()}",
        conflict={"resource": found.resource, "start": start.isoformat(), "end": end.isoformat()},
    )


def record_event(
    session: Session,
    booking: Booking,
    action: str,
    before: str | None,
    actor: int | None,
    reason: str | None = None,
) -> None:
    assert booking.id is not None
    session.add(
        BookingEvent(
            booking_id=booking.id,
            actor_id=actor,
            action=action,
            from_status=before,
            to_status=booking.status,
            reason=reason,
        )
    )
    audit.append(
        session,
        f"booking.{action}",
        ("booking", booking.id),
        actor=actor,
        platform_id=booking.platform_id,
        payload={
            "from": before,
            "to": booking.status,
            "reason": reason,
            "resource_id": booking.resource_id,
            "organization_id": booking.organization_id,
            "user_class": booking.user_class,
            "key_project": booking.key_project,
            "start": booking.starts_at,
            "end": booking.ends_at,
            "estimated_price": booking.estimated_price,
        },
    )


def _quota_hours(session: Session, platform: Platform, organization_id: int | None) -> float | None:
    if organization_id is None or organization_id == platform.owner_org_id:
        return None
    override = session.exec(
        select(Quota).where(Quota.platform_id == platform.id, Quota.organization_id == organization_id)
    ).first()
    return override.hours_per_month if override is not None else platform.default_quota_hours


def _month_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, str]:
    local = moment.astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following, f"{local:%Y-%m}"


def _hours_used(
    session: Session, platform_id: int, organization_id: int, start: datetime, end: datetime
) -> timedelta:
    rows = session.exec(
        select(Booking.starts_at, Booking.ends_at).where(
            Booking.platform_id == platform_id,
            Booking.organization_id == organization_id,
            col(Booking.parent_id).is_(None),
            col(Booking.status).in_([s.value for s in HOLDS_SLOT]),
            col(Booking.starts_at) >= start,
            col(Booking.starts_at) < end,
        )
    ).all()
    return sum(((e - s) for s, e in rows if s and e), timedelta())


def price_of(session: Session, resource_id: int, user_class: UserClass, slot: Interval) -> Decimal | None:
    day = slot.start.date()
    card = session.exec(
        select(RateCard).where(
            RateCard.resource_id == resource_id,
            RateCard.user_class == user_class,
            RateCard.unit == RateUnit.hour,
            col(RateCard.valid_from) <= day,
            or_(col(RateCard.valid_to).is_(None), col(RateCard.valid_to) >= day),
        )
    ).first()
    return None if card is None else hourly_price(slot, card.price)


def _who_books(session: Session, who: Principal, platform: Platform) -> tuple[int | None, UserClass, bool]:
    """(organization, user class, staff?) of the caller booking on `platform`."""
    ensure_can_write(who)
    if who.role is Role.sme:
        return who.organization_id, UserClass.external_sme, False
    if who.role is Role.operator and who.platform_id != platform.id:
        raise AccessDenied("operators book only on their own platform")
    return platform.owner_org_id, UserClass.internal, True


# --- requesting ----------------------------------------------------------------------------------


def check_fixed_slot(
    session: Session,
    who: Principal,
    resource: Resource,
    platform: Platform,
    slot: Interval,
    now: datetime,
    organization_id: int | None,
    staff: bool,
) -> None:
    """Every rule a fixed slot must pass except the overlap with other bookings."""
    if resource.status != ResourceStatus.active:
        raise Invalid("resource_id", f"{resource.code} is {resource.status} and cannot be booked")
    rules = SlotRules(
        timedelta(minutes=resource.min_notice_minutes),
        timedelta(hours=resource.max_booking_hours),
        resource.unattended,
    )
    check_slot_shape(slot, now, rules, staff=staff)
    padded = Interval(slot.start - timedelta(days=1), slot.end + timedelta(days=1))
    targets = [resource] + [get_resource(session, m) for m in member_ids(session, resource.id or 0)]
    for target in targets:
        calendar = calendar_of(session, target, padded, with_bookings=False)
        if target.status != ResourceStatus.active:
            raise Invalid("resource_id", f"{target.code} (part of {resource.code}) is {target.status}")
        check_fits_calendar(
            slot, opening_periods(calendar, padded), list(calendar.blocked), resource.unattended
        )
    if (
        not staff
        and resource.requires_qualification
        and not is_qualified(session, who.user_id, resource.id or 0)
    ):
        raise AccessDenied(
            f"you are not qualified to use {resource.code}; ask the platform for an induction (qualification)"
        )
    if organization_id is not None:
        quota = _quota_hours(session, platform, organization_id)
        if quota is not None:
            first, following, month = _month_bounds(slot.start, ZoneInfo(platform.timezone))
            used = _hours_used(session, platform.id or 0, organization_id, first, following)
            check_quota(used, slot.duration, quota, month)


def request_booking(
    session: Session, who: Principal, data: BookingCreate, now: datetime | None = None
) -> Booking:
    now = now or utcnow()
    if data.is_fixed:
        assert data.resource_id is not None and data.start is not None and data.end is not None
        return book_fixed(session, who, data.resource_id, Interval(data.start, data.end), data, now)
    return _request_flexible(session, who, data, now)


def book_fixed(
    session: Session,
    who: Principal,
    resource_id: int,
    slot: Interval,
    data: BookingCreate | object,
    now: datetime,
    source: str = "api",
    series_id: str | None = None,
) -> Booking:
    resource = get_resource(session, resource_id)
    platform = get_or_404(session, Platform, resource.platform_id, "platform")
    organization_id, user_class, staff = _who_books(session, who, platform)
    check_fixed_slot(session, who, resource, platform, slot, now, organization_id, staff)
    members = member_ids(session, resource_id)
    lock_resources(session, [resource_id, *members])
    found = slot_conflict(session, [resource_id, *members], slot)
    if found is not None:
        _raise_conflict(found, ZoneInfo(platform.timezone))
    booking = Booking(
        platform_id=platform.id or 0,
        resource_id=resource_id,
        kind=BookingKind.fixed,
        status=BookingStatus.requested,
        organization_id=organization_id,
        user_id=who.user_id,
        user_class=user_class,
        starts_at=slot.start,
        ends_at=slot.end,
        requested_at=now,
        source=source,
        series_id=series_id,
        sla_due_at=sla_due(now, False, platform.sla_hours, platform.green_sla_hours),
        estimated_price=price_of(session, resource_id, user_class, slot),
        **declaration_of(data),
    )
    rule = AutoApproval(**(resource.auto_approve or {}))
    qualified = (
        staff or not resource.requires_qualification or is_qualified(session, who.user_id, resource_id)
    )
    minutes = int(slot.duration.total_seconds() // 60)
    approve_now = staff or auto_approves(
        rule, minutes=minutes, qualified=qualified, hazardous=booking.hazardous
    )
    if approve_now:
        booking.status, booking.decided_at = BookingStatus.approved, now
        booking.decision_reason = (
            "booked by platform staff" if staff else "approved automatically by the resource's rule"
        )
    save_with_members(session, booking, members, ZoneInfo(platform.timezone))
    record_event(session, booking, "request", None, who.user_id)
    if approve_now:
        record_event(session, booking, "approve", BookingStatus.requested, None, booking.decision_reason)
    notify_booking(session, booking, f"booking.{booking.status}")
    return booking


def save_with_members(session: Session, booking: Booking, members: list[int], zone: ZoneInfo) -> None:
    """Insert or update the booking and add, for a line, one child row per instrument: all or nothing."""
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
            for member in members:
                session.add(
                    Booking.model_validate(
                        booking, update={"id": None, "resource_id": member, "parent_id": booking.id}
                    )
                )
            session.flush()
    except IntegrityError:
        # Another transaction took the slot between our check and our insert (PostgreSQL only).
        assert booking.starts_at is not None and booking.ends_at is not None
        slot = Interval(booking.starts_at, booking.ends_at)
        found = slot_conflict(session, [booking.resource_id or 0, *members], slot)
        if found is None:
            raise
        _raise_conflict(found, zone)


def _request_flexible(session: Session, who: Principal, data: BookingCreate, now: datetime) -> Booking:
    assert data.window_start and data.window_end and data.duration_minutes
    candidates: list[Resource] = []
    if data.candidates:
        candidates = [get_resource(session, rid) for rid in data.candidates]
    elif data.resource_id is not None:
        candidates = [get_resource(session, data.resource_id)]
    else:
        if data.platform_id is None:
            raise Invalid("platform_id", "a request by capability names the platform to ask")
        from backend.services.resources import search_resources

        candidates, _ = search_resources(
            session, platform=None, capabilities=[data.capability or ""], limit=500
        )
        candidates = [r for r in candidates if r.platform_id == data.platform_id]
        if not candidates:
            raise Invalid(
                "capability", f"no resource of platform {data.platform_id} offers {data.capability!r}"
            )
    platform_ids = {r.platform_id for r in candidates}
    if len(platform_ids) != 1:
        raise Invalid("candidates", "candidate resources must belong to one platform")
    platform = get_or_404(session, Platform, platform_ids.pop(), "platform")
    organization_id, user_class, staff = _who_books(session, who, platform)
    if not staff:
        allowed = [
            r
            for r in candidates
            if not r.requires_qualification or is_qualified(session, who.user_id, r.id or 0)
        ]
        if not allowed:
            codes = ", ".join(r.code for r in candidates)
            raise AccessDenied(
                f"you are not qualified to use any of {codes}; ask the platform for an induction"
            )
        candidates = allowed  # the optimizer only places SMEs where they are qualified
    booking = Booking(
        platform_id=platform.id or 0,
        kind=BookingKind.flexible,
        status=BookingStatus.requested,
        organization_id=organization_id,
        user_id=who.user_id,
        user_class=user_class,
        duration_minutes=data.duration_minutes,
        window_start=data.window_start,
        window_end=data.window_end,
        candidates=[r.code for r in candidates],
        capability=data.capability,
        requested_at=now,
        sla_due_at=sla_due(now, False, platform.sla_hours, platform.green_sla_hours),
        **declaration_of(data),
    )
    session.add(booking)
    session.flush()
    record_event(session, booking, "request", None, who.user_id)
    notify_booking(session, booking, "booking.requested")
    return booking


# --- moving through the lifecycle ---------------------------------------------------------------


def get_booking(session: Session, who: Principal, booking_id: int) -> Booking:
    booking = get_or_404(session, Booking, booking_id, "booking")
    if booking.parent_id is not None:
        raise NotFound(f"booking {booking_id} is part of booking {booking.parent_id}; use that one")
    _ensure_sees(who, booking)
    return booking


def _ensure_sees(who: Principal, booking: Booking) -> None:
    if who.role in (Role.admin, Role.auditor):
        return
    if who.role is Role.operator and who.platform_id == booking.platform_id:
        return
    if (
        who.role is Role.sme
        and who.organization_id is not None
        and who.organization_id == booking.organization_id
    ):
        return
    if who.user_id == booking.user_id:
        return
    raise AccessDenied("this booking belongs to another organization")


def _facts(booking: Booking) -> BookingFacts:
    slot = Interval(booking.starts_at, booking.ends_at) if booking.starts_at and booking.ends_at else None
    return BookingFacts(
        BookingStatus(booking.status), booking.platform_id, booking.organization_id, booking.user_id, slot
    )


def _children(session: Session, booking: Booking) -> list[Booking]:
    return list(session.exec(select(Booking).where(Booking.parent_id == booking.id)))


def _set_status(session: Session, booking: Booking, status: BookingStatus) -> None:
    booking.status = status
    session.add(booking)
    for child in _children(session, booking):
        child.status = status
        session.add(child)


def transition(
    session: Session,
    who: Principal,
    booking_id: int,
    action: Action,
    reason: str | None = None,
    now: datetime | None = None,
) -> Booking:
    now = now or utcnow()
    booking = get_booking(session, who, booking_id)
    facts = _facts(booking)
    ensure_may(who, action, facts)
    target = next_status(action, facts.status)
    platform = get_or_404(session, Platform, booking.platform_id, "platform")
    staff = who.role is Role.admin or (who.role is Role.operator and who.platform_id == booking.platform_id)
    if action is Action.reject and not reason:
        raise Invalid("reason", "say why the request is rejected; the SME sees it")
    if action is Action.cancel and staff and booking.user_id != who.user_id and not reason:
        raise Invalid("reason", "say why the platform cancels this booking; the SME sees it")
    if action in (Action.approve, Action.reject):
        if booking.kind == BookingKind.flexible and booking.starts_at is None and action is Action.approve:
            raise Conflict("status: a flexible request is approved by placing it (POST /schedule/runs)")
        booking.decided_at, booking.decided_by_id, booking.decision_reason = now, who.user_id, reason
    elif action is Action.check_in:
        assert facts.slot is not None
        check_in_window(facts.slot, now, timedelta(minutes=platform.check_in_early_minutes))
        booking.checked_in_at = now
    elif action is Action.check_out:
        booking.checked_out_at = now
    elif action is Action.cancel:
        booking.cancelled_at, booking.decision_reason = now, reason or booking.decision_reason
        if facts.slot is not None:
            booking.cancellation_fee = cancellation_fee(
                facts.slot,
                now,
                platform.cancellation_free_hours,
                platform.cancellation_fee_percent,
                booking.estimated_price,
                by_staff=staff and booking.user_id != who.user_id,
            )
    before = booking.status
    _set_status(session, booking, target)
    record_event(session, booking, action.value, before, who.user_id, reason)
    notify_booking(session, booking, f"booking.{target.value}")
    if target not in HOLDS_SLOT and facts.slot is not None:
        from backend.services.waitlist import promote

        session.flush()
        promote(session, booking.resource_id or 0, facts.slot, now)
    return booking


def set_key_project(
    session: Session, who: Principal, booking_id: int, key_project: bool, reason: str | None
) -> Booking:
    """Green channel: an operator or admin flags a request as a key project; its SLA clock shortens."""
    booking = get_booking(session, who, booking_id)
    ensure_manages_platform(who, booking.platform_id)
    if BookingStatus(booking.status) in FINAL:
        raise Conflict(f"status: a {booking.status} booking cannot change its priority")
    platform = get_or_404(session, Platform, booking.platform_id, "platform")
    booking.key_project = key_project
    booking.sla_due_at = sla_due(
        booking.requested_at, key_project, platform.sla_hours, platform.green_sla_hours
    )
    if key_project and booking.user_class == UserClass.external_sme:
        booking.user_class = UserClass.key_project
    elif not key_project and booking.user_class == UserClass.key_project:
        booking.user_class = UserClass.external_sme
    if booking.starts_at and booking.ends_at and booking.resource_id:
        booking.estimated_price = price_of(
            session,
            booking.resource_id,
            UserClass(booking.user_class),
            Interval(booking.starts_at, booking.ends_at),
        )
    session.add(booking)
    record_event(
        session, booking, "key-project" if key_project else "ordinary", booking.status, who.user_id, reason
    )
    if key_project:
        notify_booking(session, booking, "booking.key_project")
    return booking


def sweep_no_shows(session: Session, now: datetime | None = None) -> list[int]:
    """Approved bookings not checked in within their grace period become no-shows; the slot is freed."""
    now = now or utcnow()
    late = session.exec(
        select(Booking, Resource.no_show_grace_minutes)
        .join(Resource, col(Resource.id) == Booking.resource_id)
        .where(
            Booking.status == BookingStatus.approved,
            col(Booking.parent_id).is_(None),
            col(Booking.starts_at) < now,
        )
    ).all()
    marked: list[int] = []
    for booking, grace in late:
        assert booking.starts_at is not None and booking.ends_at is not None
        if booking.starts_at + timedelta(minutes=grace) > now:
            continue
        _set_status(session, booking, BookingStatus.no_show)
        record_event(
            session,
            booking,
            Action.no_show.value,
            BookingStatus.approved,
            None,
            f"not checked in within {grace} minutes of the start",
        )
        notify_booking(session, booking, "booking.no_show")
        if booking.ends_at > now:
            from backend.services.waitlist import promote

            session.flush()
            promote(session, booking.resource_id or 0, Interval(now, booking.ends_at), now)
        marked.append(booking.id or 0)
    return marked


# --- reading ---------------------------------------------------------------------------------------


def list_bookings(
    session: Session,
    who: Principal,
    *,
    platform_id: int | None = None,
    resource_id: int | None = None,
    status: Sequence[BookingStatus] = (),
    organization_id: int | None = None,
    kind: BookingKind | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    key_project: bool | None = None,
    overdue: bool = False,
    mine: bool = False,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> tuple[list[Booking], int]:
    statement = (
        select(Booking)
        .where(col(Booking.parent_id).is_(None))
        .order_by(col(Booking.starts_at), col(Booking.id))
    )
    if who.role is Role.sme:
        statement = statement.where(Booking.organization_id == who.organization_id)
    elif who.role is Role.operator:
        statement = statement.where(Booking.platform_id == who.platform_id)
    if mine:
        statement = statement.where(Booking.user_id == who.user_id)
    if platform_id is not None:
        statement = statement.where(Booking.platform_id == platform_id)
    if resource_id is not None:
        statement = statement.where(Booking.resource_id == resource_id)
    if status:
        statement = statement.where(col(Booking.status).in_([s.value for s in status]))
    if organization_id is not None:
        statement = statement.where(Booking.organization_id == organization_id)
    if kind is not None:
        statement = statement.where(Booking.kind == kind)
    if start is not None:
        statement = statement.where(col(Booking.ends_at) > start)
    if end is not None:
        statement = statement.where(col(Booking.starts_at) < end)
    if key_project is not None:
        statement = statement.where(Booking.key_project == key_project)
    if overdue:
        statement = statement.where(
            Booking.status == BookingStatus.checked_in, col(Booking.ends_at) < (now or utcnow())
        )
    return page(session, statement, offset, limit)


def approval_queue(session: Session, who: Principal, platform_id: int | None) -> list[Booking]:
    """Requests waiting for a decision: green channel first, then by SLA deadline."""
    if who.role is Role.sme:
        raise AccessDenied("the approval queue is for platform operators")
    statement = select(Booking).where(
        Booking.status == BookingStatus.requested, col(Booking.parent_id).is_(None)
    )
    if who.role is Role.operator:
        statement = statement.where(Booking.platform_id == who.platform_id)
    elif platform_id is not None:
        statement = statement.where(Booking.platform_id == platform_id)
    rows = list(session.exec(statement))
    return sorted(
        rows, key=lambda b: queue_key(b.key_project, b.sla_due_at or b.requested_at, b.requested_at)
    )


def history(session: Session, who: Principal, booking_id: int) -> list[BookingEvent]:
    get_booking(session, who, booking_id)
    return list(
        session.exec(
            select(BookingEvent)
            .where(BookingEvent.booking_id == booking_id)
            .order_by(col(BookingEvent.at), col(BookingEvent.id))
        )
    )


def to_public(session: Session, bookings: Sequence[Booking]) -> list[BookingPublic]:
    ids = {b.resource_id for b in bookings if b.resource_id}
    codes = (
        dict(session.exec(select(Resource.id, Resource.code).where(col(Resource.id).in_(ids))).all())
        if ids
        else {}
    )
    parents = [b.id for b in bookings]
    members: dict[int, list[int]] = {}
    if parents:
        for child_parent, child_resource in session.exec(
            select(Booking.parent_id, Booking.resource_id).where(col(Booking.parent_id).in_(parents))
        ).all():
            members.setdefault(child_parent or 0, []).append(child_resource or 0)
    out = []
    for b in bookings:
        response = (b.decided_at - b.requested_at).total_seconds() / 60 if b.decided_at else None
        out.append(
            BookingPublic(
                **b.model_dump(exclude={"starts_at", "ends_at", "decided_by_id"}, warnings=False),
                resource=codes.get(b.resource_id) if b.resource_id else None,
                start=b.starts_at,
                end=b.ends_at,
                response_minutes=response,
                members=members.get(b.id or 0, []),
            )
        )
    return out
