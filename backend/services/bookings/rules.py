"""The facts a slot is judged on, loaded once for both paths that hand out time: a person booking
(`requesting.book_fixed`) and the optimizer placing a request (`scheduling.runs`). The judging itself is
`backend.domain.bookings.check_slot`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from backend.domain.availability import opening_periods
from backend.domain.bookings import QuotaUse, SlotFacts, SlotRules, Target, check_slot
from backend.domain.intervals import Interval
from backend.models.platform import Platform
from backend.models.resource import Resource, ResourceStatus
from backend.services.bookings.quotas import hours_used, month_bounds, quota_hours
from backend.services.catalog.availability import calendar_of
from backend.services.catalog.qualifications import is_qualified
from backend.services.catalog.resources import get_resource, member_ids


@dataclass(frozen=True)
class Requester:
    """Who asks for the time: the user (for qualifications), the organization (quotas), and whether they
    are platform staff (exempt from minimum notice, qualifications and quotas)."""

    user_id: int
    organization_id: int | None
    staff: bool


def slot_rules(resource: Resource) -> SlotRules:
    return SlotRules(
        timedelta(minutes=resource.min_notice_minutes),
        timedelta(hours=resource.max_booking_hours),
        resource.unattended,
    )


def targets_of(
    session: Session,
    resource: Resource,
    platform: Platform,
    window: Interval,
    members: Sequence[int] | None = None,
) -> list[Target]:
    """The booked resource, then (for a pilot line) each instrument, with opening hours and maintenance.
    `members`: the line's instruments when the caller has read them already (one query fewer)."""
    if members is None:
        members = member_ids(session, resource.id or 0)
    resources = [resource] + [get_resource(session, m) for m in members]
    out = []
    for target in resources:
        calendar = calendar_of(session, target, window, with_bookings=False, platform=platform)
        out.append(
            Target(
                code=target.code,
                usable=target.status == ResourceStatus.active,
                status=str(target.status),
                open_periods=opening_periods(calendar, window),
                maintenance=list(calendar.blocked),
            )
        )
    return out


def slot_facts(
    session: Session,
    requester: Requester,
    resource: Resource,
    platform: Platform,
    slot: Interval,
    now: datetime,
    exclude_booking: int | None = None,
    members: Sequence[int] | None = None,
) -> SlotFacts:
    """Facts about `slot` on `resource`; `exclude_booking` is the booking being judged itself, when it
    is already stored (so its own hours do not count against its quota)."""
    # A day either side: an opening period that runs into the slot from the day before is seen whole.
    padded = Interval(slot.start - timedelta(days=1), slot.end + timedelta(days=1))
    zone = ZoneInfo(platform.timezone)
    quota = None
    hours = quota_hours(session, platform, requester.organization_id)
    if hours is not None and requester.organization_id is not None and not requester.staff:
        first, following, month = month_bounds(slot.start, zone)
        used = hours_used(
            session,
            platform.id or 0,
            requester.organization_id,
            first,
            following,
            () if exclude_booking is None else (exclude_booking,),
        )
        quota = QuotaUse(hours, used, month)
    qualified = (
        requester.staff
        or not resource.requires_qualification
        or is_qualified(session, requester.user_id, resource.id or 0)
    )
    return SlotFacts(
        now=now,
        staff=requester.staff,
        rules=slot_rules(resource),
        targets=targets_of(session, resource, platform, padded, members),
        qualified=qualified,
        quota=quota,
        zone=zone,
    )


def check_fixed_slot(
    session: Session,
    requester: Requester,
    resource: Resource,
    platform: Platform,
    slot: Interval,
    now: datetime,
    exclude_booking: int | None = None,
    members: Sequence[int] | None = None,
) -> None:
    """Every rule `slot` must pass except the overlap with other bookings; raises Invalid/AccessDenied.
    `members`: the pilot line's instruments, when the caller has read them already."""
    facts = slot_facts(session, requester, resource, platform, slot, now, exclude_booking, members)
    check_slot(slot, facts)
