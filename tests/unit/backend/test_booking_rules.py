"""Booking rules without a database: lifecycle, who may act, slot fit, quota, fees, queue order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.access import Principal, Role
from backend.domain.bookings import (
    Action,
    AutoApproval,
    BookingFacts,
    BookingStatus,
    QuotaUse,
    SlotFacts,
    SlotRules,
    Target,
    auto_approves,
    cancellation_fee,
    check_fits_calendar,
    check_quota,
    check_slot,
    check_slot_shape,
    ensure_may,
    next_status,
    queue_key,
)
from backend.domain.errors import AccessDenied, Conflict, Invalid
from backend.domain.intervals import Interval

T0 = datetime(2027, 1, 4, tzinfo=UTC)


def iv(a: float, b: float) -> Interval:
    return Interval(T0 + timedelta(hours=a), T0 + timedelta(hours=b))


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        (Action.approve, BookingStatus.requested, BookingStatus.approved),
        (Action.reject, BookingStatus.requested, BookingStatus.rejected),
        (Action.cancel, BookingStatus.requested, BookingStatus.cancelled),
        (Action.cancel, BookingStatus.approved, BookingStatus.cancelled),
        (Action.check_in, BookingStatus.approved, BookingStatus.checked_in),
        (Action.check_out, BookingStatus.checked_in, BookingStatus.completed),
        (Action.no_show, BookingStatus.approved, BookingStatus.no_show),
    ],
)
def test_allowed_transitions(action: Action, start: BookingStatus, end: BookingStatus) -> None:
    assert next_status(action, start) is end


@given(
    st.sampled_from(list(Action)),
    st.sampled_from(
        [BookingStatus.rejected, BookingStatus.completed, BookingStatus.cancelled, BookingStatus.no_show]
    ),
)
def test_final_states_never_move(action: Action, final: BookingStatus) -> None:
    with pytest.raises(Conflict, match=f"a {final.value} booking cannot"):
        next_status(action, final)


def test_who_may_act_on_a_booking() -> None:
    facts = BookingFacts(BookingStatus.requested, platform_id=1, organization_id=10, user_id=5, slot=iv(1, 2))
    member = Principal(6, Role.sme, organization_id=10)
    stranger = Principal(7, Role.sme, organization_id=11)
    operator, other_operator = (
        Principal(8, Role.operator, platform_id=1),
        Principal(9, Role.operator, platform_id=2),
    )
    ensure_may(member, Action.cancel, facts)
    ensure_may(operator, Action.approve, facts)
    for who, action in [
        (member, Action.approve),
        (stranger, Action.cancel),
        (other_operator, Action.approve),
        (Principal(3, Role.auditor), Action.cancel),
    ]:
        with pytest.raises(AccessDenied):
            ensure_may(who, action, facts)


opening = [iv(8, 20), iv(32, 44)]  # two days, 08:00-20:00 UTC


@given(st.floats(0, 48).map(lambda h: round(h * 4) / 4), st.floats(0.25, 30).map(lambda h: round(h * 4) / 4))
def test_attended_slot_fits_only_inside_one_opening_period(start: float, length: float) -> None:
    slot = iv(start, start + length)
    inside = any(p.contains(slot) for p in opening)
    try:
        check_fits_calendar(slot, opening, [], unattended=False)
        assert inside
    except Invalid as exc:
        assert not inside and "opening hours" in exc.message


@given(st.floats(0, 48).map(lambda h: round(h * 4) / 4), st.floats(0.25, 30).map(lambda h: round(h * 4) / 4))
def test_unattended_run_may_span_closed_hours_but_starts_and_ends_open(start: float, length: float) -> None:
    slot = iv(start, start + length)
    ok = any(p.start <= slot.start < p.end for p in opening) and any(
        p.start < slot.end <= p.end for p in opening
    )
    try:
        check_fits_calendar(slot, opening, [], unattended=True)
        assert ok
    except Invalid:
        assert not ok


@given(st.floats(8, 19).map(lambda h: round(h * 4) / 4), st.floats(0.25, 4).map(lambda h: round(h * 4) / 4))
def test_maintenance_blocks_overlaps_but_not_adjacent_slots(start: float, length: float) -> None:
    maintenance = iv(12, 14)
    slot = iv(start, min(start + length, 20))
    overlaps = slot.start < maintenance.end and maintenance.start < slot.end
    try:
        check_fits_calendar(slot, opening, [maintenance], unattended=False)
        assert not overlaps
    except Invalid as exc:
        assert overlaps and "maintenance" in exc.message


def test_notice_and_length() -> None:
    rules = SlotRules(min_notice=timedelta(hours=2), max_length=timedelta(hours=8), unattended=False)
    now = T0
    with pytest.raises(Invalid, match="at least 120 minutes"):
        check_slot_shape(iv(1, 2), now, rules, staff=False)
    check_slot_shape(iv(1, 2), now, rules, staff=True)  # staff may book at short notice
    with pytest.raises(Invalid, match="at most 8 hours"):
        check_slot_shape(iv(3, 12), now, rules, staff=True)
    with pytest.raises(Invalid, match="in the past"):
        check_slot_shape(iv(-3, -1), now, rules, staff=True)


def test_quota() -> None:
    check_quota(timedelta(hours=10), timedelta(hours=10), 20, "2027-01")
    check_quota(timedelta(hours=100), timedelta(hours=10), None, "2027-01")
    with pytest.raises(Invalid, match="quota on this platform is 20 h in 2027-01; 5 h are left"):
        check_quota(timedelta(hours=15), timedelta(hours=6), 20, "2027-01")


def test_auto_approval_rule() -> None:
    rule = AutoApproval(enabled=True, max_minutes=240)
    assert auto_approves(rule, minutes=120, qualified=True, hazardous=False)
    assert not auto_approves(rule, minutes=300, qualified=True, hazardous=False)
    assert not auto_approves(rule, minutes=120, qualified=False, hazardous=False)
    assert not auto_approves(rule, minutes=120, qualified=True, hazardous=True)
    assert not auto_approves(AutoApproval(), minutes=1, qualified=True, hazardous=False)


def test_cancellation_fee_only_inside_the_window() -> None:
    slot = iv(48, 50)
    price = Decimal("300.00")
    assert cancellation_fee(slot, T0, 24, 50, price, by_staff=False) == 0
    assert cancellation_fee(slot, T0 + timedelta(hours=30), 24, 50, price, by_staff=False) == Decimal(
        "150.00"
    )
    assert cancellation_fee(slot, T0 + timedelta(hours=30), 24, 50, price, by_staff=True) == 0
    assert cancellation_fee(slot, T0 + timedelta(hours=30), 24, 50, None, by_staff=False) == 0


def test_green_channel_sorts_first_then_by_deadline() -> None:
    ordinary_early = queue_key(False, T0 + timedelta(hours=2), T0)
    key_late = queue_key(True, T0 + timedelta(hours=4), T0 + timedelta(hours=1))
    ordinary_late = queue_key(False, T0 + timedelta(hours=24), T0)
    assert sorted([ordinary_late, ordinary_early, key_late]) == [key_late, ordinary_early, ordinary_late]


def test_a_slot_that_starts_open_but_runs_past_closing_blames_its_end() -> None:
    with pytest.raises(Invalid) as attended:
        check_fits_calendar(iv(18, 22), opening, [], unattended=False)
    assert attended.value.field == "end" and "20:00" in attended.value.message
    with pytest.raises(Invalid) as unattended:
        check_fits_calendar(iv(18, 30), opening, [], unattended=True)  # ends at 06:00, closed
    assert unattended.value.field == "end"
    with pytest.raises(Invalid) as closed:
        check_fits_calendar(iv(6, 9), opening, [], unattended=False)
    assert closed.value.field == "start"
    with pytest.raises(Invalid) as into_maintenance:
        check_fits_calendar(iv(10, 13), opening, [iv(12, 14)], unattended=False)
    assert into_maintenance.value.field == "end"


def _facts(**changes: object) -> SlotFacts:
    line = Target("LINE", True, "active", opening, [])
    member = Target("I1", True, "active", opening, [])
    base = {
        "now": T0,
        "staff": False,
        "rules": SlotRules(timedelta(hours=1), timedelta(hours=8), unattended=False),
        "targets": [line, member],
        "qualified": True,
        "quota": None,
    }
    return SlotFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_check_slot_judges_every_rule_in_the_booking_order() -> None:
    check_slot(iv(9, 11), _facts())
    with pytest.raises(Invalid, match=r"resource_id: I1 \(part of LINE\) is maintenance"):
        check_slot(
            iv(9, 11), _facts(targets=[_facts().targets[0], Target("I1", False, "maintenance", opening, [])])
        )
    with pytest.raises(Invalid, match=r"^start: must be at least 60 minutes"):
        check_slot(iv(0.5, 2), _facts(targets=[Target("A", True, "active", [iv(0, 20)], [])]))
    with pytest.raises(Invalid, match=r"^start: maintenance"):
        closed_member = Target("I1", True, "active", opening, [iv(9, 10)])
        check_slot(iv(9, 11), _facts(targets=[_facts().targets[0], closed_member]))
    with pytest.raises(AccessDenied):
        check_slot(iv(9, 11), _facts(qualified=False))
    check_slot(iv(9, 11), _facts(qualified=False, staff=True))
    with pytest.raises(Invalid, match=r"^end: your organization's quota"):
        check_slot(iv(9, 11), _facts(quota=QuotaUse(10, timedelta(hours=9), "2027-01")))
