"""Utilization cells: periods in the platform's zone and the time of each kind inside them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.intervals import Interval, clip, normalize
from backend.domain.utilization import Every, cells, periods

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2027, 3, 1, tzinfo=UTC)


def test_periods_are_local_days_weeks_and_months_cut_to_the_range() -> None:
    days = periods(date(2027, 3, 27), date(2027, 3, 29), Every.day, BERLIN)
    # Summer time starts on 2027-03-28: that day has 23 hours.
    assert [round(p.duration.total_seconds() / 3600) for p in days] == [24, 23, 24]
    weeks = periods(date(2027, 3, 3), date(2027, 3, 20), Every.week, BERLIN)  # Wednesday to Saturday
    assert [p.start.astimezone(BERLIN).date() for p in weeks] == [
        date(2027, 3, 3),
        date(2027, 3, 8),
        date(2027, 3, 15),
    ]
    assert weeks[-1].end == datetime(2027, 3, 21, tzinfo=BERLIN).astimezone(UTC)
    months = periods(date(2027, 1, 15), date(2027, 3, 10), Every.month, BERLIN)
    assert [p.start.astimezone(BERLIN).date() for p in months] == [
        date(2027, 1, 15),
        date(2027, 2, 1),
        date(2027, 3, 1),
    ]


def h(a: float, b: float) -> Interval:
    return Interval(T0 + timedelta(hours=a), T0 + timedelta(hours=b))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 90), st.integers(1, 30)), max_size=8))
def test_time_per_period_adds_up_to_the_union(spans: list[tuple[int, int]]) -> None:
    intervals = [h(a, a + n) for a, n in spans]
    cuts = [h(24 * d, 24 * (d + 1)) for d in range(5)]
    per_period = cells(cuts, [], [], [(iv.start, iv.end) for iv in intervals], as_of=T0)
    union = sum(iv.duration.total_seconds() for iv in clip(normalize(intervals), h(0, 120))) / 3600
    assert abs(sum(c.used_hours for c in per_period) - union) <= 0.005 * len(cuts)


def test_a_day_of_a_resource() -> None:
    def pairs(*spans: Interval) -> list[tuple[datetime, datetime]]:
        return [(s.start, s.end) for s in spans]

    day = [h(0, 24)]
    opened = pairs(h(8, 20))  # 12 h open
    booked = pairs(h(9, 13), h(18, 22))  # 8 h booked, the last 2 past closing
    used = pairs(h(10, 12), h(19, 21))  # 4 h used, all inside bookings
    [cell] = cells(day, opened, booked, used, as_of=T0 + timedelta(hours=20))
    assert (cell.open_hours, cell.booked_hours, cell.used_hours) == (12.0, 8.0, 4.0)
    assert cell.booked_ratio == round(8 / 12, 4) and cell.used_ratio == round(4 / 12, 4)
    # Up to 20:00 the bookings held 4 + 2 h, of which 2 + 1 h were used.
    assert cell.used_of_booked == 0.5
