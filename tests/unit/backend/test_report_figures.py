"""Sharing-performance figures on a small day computed by hand (docs/reports.md defines each one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from backend.domain.intervals import Interval
from backend.domain.report import (
    BookingFact,
    ResourceFact,
    SessionFact,
    SharingReport,
    median,
    p90,
    sharing_report,
)

DAY = datetime(2026, 12, 1, tzinfo=UTC)
PERIOD = Interval(DAY, DAY + timedelta(days=1))
OWNER, SME_A, SME_B = 1, 2, 3


def at(hour: float, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour)


RESOURCES = [
    ResourceFact(1, "R1", "发酵罐", "instrument"),
    ResourceFact(2, "R2", "喷雾干燥", "instrument"),
    ResourceFact(3, "L", "中试线", "line"),
]
SESSIONS = [
    SessionFact(1, at(8), at(12), SME_A),  # external 4 h
    SessionFact(1, at(13), at(15), OWNER),  # the owner's own use 2 h
    SessionFact(1, at(23), at(2, day=1), SME_B),  # 1 h of it inside the day
    SessionFact(2, at(10), at(10.5), None),  # unbooked use: effective, not external
    SessionFact(2, at(20, day=-1), at(22, day=-1), SME_A),  # the day before: not counted
]


def booking(ident: int, **facts: object) -> BookingFact:
    base = BookingFact(
        id=ident,
        resource_id=1,
        top_level=True,
        books_line=False,
        organization_id=SME_A,
        user_class="external_sme",
        status="requested",
        key_project=False,
        requested_at=at(1),
        decided_at=None,
        decided_by_person=True,
        sla_due_at=None,
        start=None,
        end=None,
        price=None,
    )
    return replace(base, **facts)


BOOKINGS = [
    # requested the day before, used today: its income and booked time count, its request does not
    booking(
        1,
        status="completed",
        requested_at=at(10, -1),
        decided_at=at(12, -1),
        start=at(8),
        end=at(12),
        price=Decimal("400.00"),
    ),
    # the owner's own run, approved automatically
    booking(
        2,
        organization_id=OWNER,
        user_class="internal",
        status="completed",
        requested_at=at(0.5),
        decided_at=at(0.5),
        decided_by_person=False,
        start=at(13),
        end=at(15),
        price=Decimal("40.00"),
    ),
    booking(
        3,
        resource_id=2,
        organization_id=SME_B,
        status="no_show",
        requested_at=at(1),
        decided_at=at(3),
        sla_due_at=at(25),
        start=at(16),
        end=at(18),
    ),
    booking(
        4,
        resource_id=2,
        user_class="key_project",
        key_project=True,
        status="rejected",
        requested_at=at(2),
        decided_at=at(2.5),
        sla_due_at=at(6),
        start=at(20),
        end=at(21),
    ),
    booking(5, organization_id=SME_B, requested_at=at(5), start=at(9, day=1), end=at(10, day=1)),
    booking(
        6,
        resource_id=2,
        status="cancelled",
        requested_at=at(6),
        decided_at=at(16),
        sla_due_at=at(14),
        start=at(9, day=2),
        end=at(10, day=2),
    ),
    # a pilot line: its own row carries the request and the price, its instrument row the booked time
    booking(
        7,
        resource_id=3,
        books_line=True,
        organization_id=SME_B,
        status="completed",
        requested_at=at(7),
        decided_at=at(8),
        sla_due_at=at(31),
        start=at(9),
        end=at(11),
        price=Decimal("100.00"),
    ),
    booking(
        8,
        resource_id=2,
        top_level=False,
        organization_id=SME_B,
        status="completed",
        requested_at=at(7),
        decided_at=at(8),
        start=at(9),
        end=at(11),
    ),
]


def report() -> SharingReport:
    return sharing_report(PERIOD, OWNER, RESOURCES, SESSIONS, BOOKINGS, frozenset({SME_A, SME_B}))


def test_effective_and_external_hours_and_sharing_rate() -> None:
    r = report()
    assert (r.effective_hours, r.external_hours, r.sharing_rate) == (7.5, 5.0, 0.6667)
    r1, r2 = r.resources  # the line has no row: its time is measured on its instruments
    assert (r1.code, r1.effective_hours, r1.external_hours, r1.sharing_rate) == ("R1", 7.0, 5.0, 0.7143)
    assert (r2.code, r2.effective_hours, r2.external_hours, r2.sharing_rate) == ("R2", 0.5, 0.0, 0.0)


def test_smes_served_counts_each_organization_once() -> None:
    assert report().smes_served == 2


def test_booking_counts_are_of_the_requests_filed_in_the_period() -> None:
    b = report().bookings
    assert (b.requested, b.approved, b.rejected, b.cancelled, b.no_show, b.completed, b.pending) == (
        6,
        4,
        1,
        1,
        1,
        2,
        1,
    )


def test_response_time_counts_decisions_by_people_and_splits_the_green_channel() -> None:
    r = report()
    ordinary, green = r.response_ordinary, r.response_green
    # waits of 2 h (booking 3), 10 h (6) and 1 h (7); the automatic approval (2) is not a decision
    assert (ordinary.decisions, ordinary.median_hours, ordinary.p90_hours, ordinary.within_sla) == (
        3,
        2.0,
        10.0,
        2,
    )
    assert (green.decisions, green.median_hours, green.p90_hours, green.within_sla) == (1, 0.5, 0.5, 1)


def test_booked_versus_actual() -> None:
    r = report()
    r1, r2 = r.resources
    assert (r1.booked_hours, r1.used_booked_hours, r1.utilization) == (6.0, 6.0, 1.0)
    # a no-show (2 h, unused) and the line's instrument row (2 h, of which 0.5 h used)
    assert (r2.booked_hours, r2.used_booked_hours, r2.utilization) == (4.0, 0.5, 0.125)
    assert (r.booked_hours, r.used_booked_hours, r.utilization) == (10.0, 6.5, 0.65)


def test_income_of_completed_bookings_by_user_class() -> None:
    income = report().income
    assert income.by_class == {
        "internal": Decimal("40.00"),
        "external_sme": Decimal("500.00"),
        "key_project": Decimal("0.00"),
    }
    assert (income.internal, income.external, income.total) == (
        Decimal("40.00"),
        Decimal("500.00"),
        Decimal("540.00"),
    )
    assert (income.completed_bookings, income.unpriced_bookings) == (3, 0)


def test_an_empty_period_has_no_rates_rather_than_zero_division() -> None:
    r = sharing_report(PERIOD, OWNER, RESOURCES, [], [], frozenset())
    assert (r.effective_hours, r.sharing_rate, r.utilization, r.response_ordinary.median_hours) == (
        0.0,
        None,
        None,
        None,
    )


def test_median_and_nearest_rank_p90() -> None:
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5
    assert p90([float(v) for v in range(1, 11)]) == 9.0
    assert p90([float(v) for v in range(1, 12)]) == 10.0
    assert p90([4.0]) == 4.0 and p90([]) is None


spans = st.tuples(
    st.integers(0, 48 * 4), st.integers(1, 12 * 4), st.sampled_from([None, OWNER, SME_A, SME_B])
)


@given(st.lists(spans, max_size=12))
def test_external_never_exceeds_effective_and_the_rate_stays_in_0_1(
    raw: list[tuple[int, int, int | None]],
) -> None:
    sessions = [
        SessionFact(1, at(-12) + timedelta(minutes=15 * s), at(-12) + timedelta(minutes=15 * (s + n)), org)
        for s, n, org in raw
    ]
    r = sharing_report(PERIOD, OWNER, RESOURCES[:1], sessions, [], frozenset({SME_A, SME_B}))
    assert 0 <= r.external_hours <= r.effective_hours <= 24
    assert r.sharing_rate is None or 0 <= r.sharing_rate <= 1
