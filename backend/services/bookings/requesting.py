"""Requesting a booking: a fixed slot checked against every rule, or a flexible request for the optimizer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from backend.domain.access import Principal, Role, ensure_can_write
from backend.domain.bookings import AutoApproval, BookingStatus, auto_approves, sla_due
from backend.domain.errors import AccessDenied, Invalid
from backend.domain.intervals import Interval
from backend.models.booking import Booking, BookingCreate, BookingKind
from backend.models.platform import Platform
from backend.models.rate import UserClass
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.services.bookings.journal import record_event
from backend.services.bookings.presentation import remember_written
from backend.services.bookings.rules import Requester, check_fixed_slot
from backend.services.bookings.slots import lock_resources, raise_conflict, save_with_members, slot_conflict
from backend.services.catalog.qualifications import is_qualified
from backend.services.catalog.resources import (
    get_resource,
    member_ids,
    resource_and_platform,
    search_resources,
)
from backend.services.common import get_or_404
from backend.services.money.rates import price_of
from backend.services.notifications.outbox import notify_booking

DECLARATION = ("purpose", "project_name", "sample_description", "hazardous", "hazard_details")


def declaration_of(data: object) -> dict[str, Any]:
    """What the requester declared (purpose, project, samples, hazards), from any payload carrying it."""
    return {name: getattr(data, name) for name in DECLARATION}


def who_books(session: Session, who: Principal, platform: Platform) -> tuple[int | None, UserClass, bool]:
    """(organization, user class, staff?) of the caller booking on `platform`."""
    ensure_can_write(who)
    if who.role is Role.sme:
        return who.organization_id, UserClass.external_sme, False
    if who.role is Role.operator and who.platform_id != platform.id:
        raise AccessDenied("operators book only on their own platform")
    return platform.owner_org_id, UserClass.internal, True


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
    resource, platform = resource_and_platform(session, resource_id)
    organization_id, user_class, staff = who_books(session, who, platform)
    members = member_ids(session, resource_id)
    requester = Requester(who.user_id, organization_id, staff)
    check_fixed_slot(session, requester, resource, platform, slot, now, members=members)
    lock_resources(session, [resource_id, *members])
    found = slot_conflict(session, [resource_id, *members], slot)
    if found is not None:
        raise_conflict(found, ZoneInfo(platform.timezone))
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
    remember_written(session, booking, resource, platform, members)
    record_event(session, booking, "request", None, who.user_id, at=now)
    if approve_now:
        record_event(
            session, booking, "approve", BookingStatus.requested, None, booking.decision_reason, at=now
        )
    notify_booking(session, booking, f"booking.{booking.status}")
    return booking


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
    organization_id, user_class, staff = who_books(session, who, platform)
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
