"""Weekly opening hours in a platform's zone, across day boundaries, night shifts and DST."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.availability import Calendar, free_intervals, free_intervals_of_line
from backend.domain.intervals import Interval
from backend.domain.opening_hours import open_intervals, parse_weekly_hours

SH = ZoneInfo("Asia/Shanghai")
WEEKDAYS_8_20 = {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def local(day: int, hour: int, minute: int = 0, zone: ZoneInfo = SH) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=zone)


def spans(intervals: list[Interval], zone: ZoneInfo = SH) -> list[tuple[str, str]]:
    return [
        (i.start.astimezone(zone).strftime("%a %H:%M"), i.end.astimezone(zone).strftime("%a %H:%M"))
        for i in intervals
    ]


def test_window_across_midnight_in_shanghai_gets_both_days() -> None:
    # Tue 1 Dec 18:00 to Wed 2 Dec 10:00, Shanghai time (which crosses UTC midnight at 08:00 local).
    hours = parse_weekly_hours(WEEKDAYS_8_20)
    got = open_intervals(hours, SH, Interval(local(1, 18), local(2, 10)))
    assert spans(got) == [("Tue 18:00", "Tue 20:00"), ("Wed 08:00", "Wed 10:00")]


def test_night_shift_runs_into_the_next_day_and_is_found_from_the_next_morning() -> None:
    hours = parse_weekly_hours({"mon": [["22:00", "06:00"]]})  # Monday night shift
    # Monday is 30 Nov 2026; ask only for Tuesday morning.
    got = open_intervals(hours, SH, Interval(local(1, 0), local(1, 12)))
    assert spans(got) == [("Tue 00:00", "Tue 06:00")]


def test_closing_at_24_00_touches_the_next_day_opening_and_merges() -> None:
    hours = parse_weekly_hours({"tue": [["20:00", "24:00"]], "wed": [["00:00", "04:00"]]})
    got = open_intervals(hours, SH, Interval(local(1, 0), local(3, 0)))
    assert spans(got) == [("Tue 20:00", "Wed 04:00")]


def test_daylight_saving_zone_keeps_wall_clock_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hours = parse_weekly_hours({"sun": [["01:00", "05:00"]]})  # 29 March 2026: 02:00 -> 03:00
    window = Interval(datetime(2026, 3, 29, 0, tzinfo=berlin), datetime(2026, 3, 30, 0, tzinfo=berlin))
    (only,) = open_intervals(hours, berlin, window)
    assert only.duration == timedelta(hours=3)  # one hour is skipped by the clock change


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"funday": []}, "unknown weekday 'funday'"),
        ({"mon": [["8:00", "20:00"]]}, r"opening_hours.mon\[0\]: '8:00' is not a time of day"),
        ({"mon": [["08:00"]]}, r"opening_hours.mon\[0\]: expected a pair"),
        ({"mon": [["08:00", "12:00"], ["11:00", "14:00"]]}, "opening_hours.mon: periods overlap"),
        ({"mon": [["24:00", "02:00"]]}, "cannot start at 24:00"),
    ],
)
def test_bad_hours_name_the_entry(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_weekly_hours(raw)


def test_maintenance_across_midnight_is_cut_from_two_days() -> None:
    calendar = Calendar(
        hours={d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        zone=SH,
        blocked=[Interval(local(1, 22), local(2, 2))],
    )
    got = free_intervals(calendar, Interval(local(1, 20), local(2, 4)))
    assert spans(got) == [("Tue 20:00", "Tue 22:00"), ("Wed 02:00", "Wed 04:00")]


def test_line_is_free_only_when_every_member_is() -> None:
    line = Calendar(hours=WEEKDAYS_8_20, zone=SH)
    fermenter = Calendar(hours=None, zone=SH, blocked=[Interval(local(1, 10), local(1, 12))])
    dryer = Calendar(hours=None, zone=SH, blocked=[Interval(local(1, 15), local(1, 16))])
    got = free_intervals_of_line(line, [fermenter, dryer], Interval(local(1, 0), local(2, 0)))
    assert spans(got) == [("Tue 08:00", "Tue 10:00"), ("Tue 12:00", "Tue 15:00"), ("Tue 16:00", "Tue 20:00")]


def test_unusable_resource_has_no_free_time() -> None:
    assert (
        free_intervals(Calendar(hours=None, zone=SH, usable=False), Interval(local(1, 0), local(2, 0))) == []
    )


clock = st.integers(0, 23 * 60 + 59).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")


@given(clock, clock, st.integers(0, 6 * 24 * 60), st.integers(60, 3 * 24 * 60))
def test_every_open_minute_is_inside_the_weekly_hours(start: str, end: str, offset: int, length: int) -> None:
    hours = parse_weekly_hours({d: [[start, end]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    window_start = local(1, 0) + timedelta(minutes=offset)
    window = Interval(window_start, window_start + timedelta(minutes=length))
    got = open_intervals(hours, SH, window)
    s, e = (int(x[:2]) * 60 + int(x[3:]) for x in (start, end))
    for interval in got:
        assert window.contains(interval)
        probe = interval.start
        while probe < interval.end:
            m = probe.astimezone(SH).hour * 60 + probe.astimezone(SH).minute
            assert (s <= m < e) if e > s else (m >= s or m < e), f"{probe} is outside {start}-{end}"
            probe += timedelta(minutes=17)
