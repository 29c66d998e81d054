"""Booking rules: the lifecycle, what a slot must satisfy, approval, SLA clocks and cancellation fees.

Everything here is pure: the services load the facts (calendar, quota use, qualification) and ask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from backend.domain.access import Principal, Role
from backend.domain.errors import AccessDenied, Conflict, Invalid
from backend.domain.intervals import Interval, covers, normalize


class BookingStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"
    checked_in = "checked_in"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


#: Statuses that hold their time slot; the database refuses two of them overlapping on one resource.
HOLDS_SLOT = frozenset(
    {BookingStatus.requested, BookingStatus.approved, BookingStatus.checked_in, BookingStatus.completed}
)
#: Statuses from which nothing moves on.
FINAL = frozenset(
    {BookingStatus.rejected, BookingStatus.completed, BookingStatus.cancelled, BookingStatus.no_show}
)


class Action(StrEnum):
    approve = "approve"
    reject = "reject"
    cancel = "cancel"
    check_in = "check-in"
    check_out = "check-out"
    no_show = "no-show"


TRANSITIONS: dict[Action, tuple[frozenset[BookingStatus], BookingStatus]] = {
    Action.approve: (frozenset({BookingStatus.requested}), BookingStatus.approved),
    Action.reject: (frozenset({BookingStatus.requested}), BookingStatus.rejected),
    Action.cancel: (frozenset({BookingStatus.requested, BookingStatus.approved}), BookingStatus.cancelled),
    Action.check_in: (frozenset({BookingStatus.approved}), BookingStatus.checked_in),
    Action.check_out: (frozenset({BookingStatus.checked_in}), BookingStatus.completed),
    Action.no_show: (frozenset({BookingStatus.approved}), BookingStatus.no_show),
}


@dataclass(frozen=True)
class BookingFacts:
    """What a transition needs to know about one booking."""

    status: BookingStatus
    platform_id: int
    organization_id: int | None
    user_id: int
    slot: Interval | None


def next_status(action: Action, current: BookingStatus) -> BookingStatus:
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise Conflict(f"status: a {current.value} booking cannot be {_past(action)}")
    return target


def _past(action: Action) -> str:
    return {
        Action.approve: "approved",
        Action.reject: "rejected",
        Action.cancel: "cancelled",
        Action.check_in: "checked in",
        Action.check_out: "checked out",
        Action.no_show: "marked no-show",
    }[action]


def ensure_may(who: Principal, action: Action, booking: BookingFacts) -> None:
    """Operators decide on their platform's bookings; the booking organization uses and cancels them."""
    if who.role is Role.auditor:
        raise AccessDenied("auditors have read-only access")
    staff = who.role is Role.admin or (who.role is Role.operator and who.platform_id == booking.platform_id)
    if action in (Action.approve, Action.reject, Action.no_show):
        if not staff:
            raise AccessDenied(f"only an operator of this platform may {action.value} a booking")
        return
    own = who.user_id == booking.user_id or (
        who.role is Role.sme
        and who.organization_id is not None
        and who.organization_id == booking.organization_id
    )
    if not (staff or own):
        raise AccessDenied("this booking belongs to another organization")


def check_in_window(slot: Interval, now: datetime, early: timedelta) -> None:
    if now < slot.start - early:
        minutes = int(early.total_seconds() // 60)
        raise Conflict(f"check-in opens {minutes} min before the start ({slot.start.isoformat()})")
    if now >= slot.end:
        raise Conflict("the booked time is over; it can no longer be checked in")


# --- rules for a requested slot --------------------------------------------------------------


@dataclass(frozen=True)
class SlotRules:
    min_notice: timedelta
    max_length: timedelta
    unattended: bool


def check_slot_shape(slot: Interval, now: datetime, rules: SlotRules, *, staff: bool) -> None:
    """Notice and length; staff may book at short notice (e.g. an internal run today)."""
    if slot.end <= now:
        raise Invalid("start", "is in the past")
    if not staff and slot.start < now + rules.min_notice:
        minutes = int(rules.min_notice.total_seconds() // 60)
        raise Invalid("start", f"must be at least {minutes} minutes from now (the resource's minimum notice)")
    if slot.duration > rules.max_length:
        hours = rules.max_length.total_seconds() / 3600
        raise Invalid("end", f"a booking of this resource lasts at most {hours:g} hours")


def _clock(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat()


def check_fits_calendar(
    slot: Interval,
    open_periods: Sequence[Interval],
    blocked: Sequence[Interval],
    unattended: bool,
    zone: tzinfo = UTC,
) -> None:
    """The slot lies in opening hours (wholly, or start and end for unattended runs) and off maintenance.

    The error blames the end of the slot when only its end is wrong (it runs past closing, or into a
    maintenance window that begins after the start)."""
    for window in blocked:
        if window.overlaps(slot):
            field = "start" if window.start <= slot.start else "end"
            raise Invalid(
                field, f"maintenance from {_clock(window.start, zone)} to {_clock(window.end, zone)}"
            )
    merged = normalize(open_periods)
    if covers(merged, slot):
        return
    opened = next((p for p in merged if p.start <= slot.start < p.end), None)
    if opened is None:
        how = "an unattended run may span closed hours but starts in them" if unattended else "closed then"
        raise Invalid("start", f"outside opening hours: {how}")
    if not unattended:
        raise Invalid(
            "end",
            f"after closing: the opening hours that include the start end at {_clock(opened.end, zone)}",
        )
    if not any(p.start < slot.end <= p.end for p in merged):
        raise Invalid(
            "end",
            "outside opening hours: an unattended run may span closed hours but ends in them "
            "(someone unloads it)",
        )


def check_quota(used: timedelta, wanted: timedelta, quota_hours: float | None, month: str) -> None:
    if quota_hours is None:
        return
    if used + wanted > timedelta(hours=quota_hours):
        left = max(0.0, quota_hours - used.total_seconds() / 3600)
        raise Invalid(
            "end",
            f"your organization's quota on this platform is {quota_hours:g} h in {month}; "
            f"{left:g} h are left and this booking needs {wanted.total_seconds() / 3600:g} h",
        )


@dataclass(frozen=True)
class QuotaUse:
    """An organization's monthly quota on a platform and what it already holds in the slot's month."""

    hours: float
    used: timedelta
    month: str


@dataclass(frozen=True)
class Target:
    """One resource a slot occupies: the booked one and, for a pilot line, each of its instruments."""

    code: str
    usable: bool  # active (not under maintenance status, not retired)
    status: str
    open_periods: Sequence[Interval]
    maintenance: Sequence[Interval]


@dataclass(frozen=True)
class SlotFacts:
    """Everything `check_slot` judges a slot on; `backend.services.bookings.rules` loads it."""

    now: datetime
    staff: bool  # platform staff: no minimum notice, no qualification, no quota
    rules: SlotRules
    targets: Sequence[Target]
    qualified: bool
    quota: QuotaUse | None
    zone: tzinfo = UTC


def check_slot(slot: Interval, facts: SlotFacts) -> None:
    """Every rule a slot must pass except the overlap with other bookings (the database's to keep).

    The one judge of a slot: the booking path calls it before holding the time, and the optimizer's
    placements call it before becoming bookings. Raises Invalid (naming the field) or AccessDenied."""
    booked = facts.targets[0]
    if not booked.usable:
        raise Invalid("resource_id", f"{booked.code} is {booked.status} and cannot be booked")
    check_slot_shape(slot, facts.now, facts.rules, staff=facts.staff)
    for target in facts.targets:
        if not target.usable:
            raise Invalid("resource_id", f"{target.code} (part of {booked.code}) is {target.status}")
        check_fits_calendar(slot, target.open_periods, target.maintenance, facts.rules.unattended, facts.zone)
    if not facts.staff and not facts.qualified:
        raise AccessDenied(
            f"you are not qualified to use {booked.code}; ask the platform for an induction (qualification)"
        )
    if facts.quota is not None:
        check_quota(facts.quota.used, slot.duration, facts.quota.hours, facts.quota.month)


# --- approval and SLA ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoApproval:
    """Per-resource rule: approve at once when every condition holds."""

    enabled: bool = False
    max_minutes: int | None = None
    qualified_only: bool = True
    no_hazard: bool = True


def auto_approves(rule: AutoApproval, *, minutes: int, qualified: bool, hazardous: bool) -> bool:
    if not rule.enabled:
        return False
    if rule.max_minutes is not None and minutes > rule.max_minutes:
        return False
    if rule.qualified_only and not qualified:
        return False
    return not (rule.no_hazard and hazardous)


def sla_due(requested_at: datetime, key_project: bool, sla_hours: float, green_sla_hours: float) -> datetime:
    return requested_at + timedelta(hours=green_sla_hours if key_project else sla_hours)


def queue_key(
    key_project: bool, sla_due_at: datetime, requested_at: datetime
) -> tuple[int, datetime, datetime]:
    """Green channel first, then the nearest SLA deadline, then first come."""
    return (0 if key_project else 1, sla_due_at, requested_at)


# --- cancellation ------------------------------------------------------------------------------


def cancellation_fee(
    slot: Interval,
    now: datetime,
    free_hours: float,
    fee_percent: float,
    price: Decimal | None,
    *,
    by_staff: bool,
) -> Decimal:
    """Nothing when cancelled early enough, by the platform, or unpriced; else a share of the price."""
    if by_staff or price is None or now <= slot.start - timedelta(hours=free_hours):
        return Decimal("0.00")
    return (price * Decimal(str(fee_percent)) / Decimal(100)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def hourly_price(slot: Interval, price_per_hour: Decimal) -> Decimal:
    hours = Decimal(int(slot.duration.total_seconds())) / Decimal(3600)
    return (price_per_hour * hours).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
