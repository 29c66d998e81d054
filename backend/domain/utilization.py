"""Utilization per resource and period (day, week or month in the platform's zone): opening hours,
booked hours, measured use and their ratios — what the operator console's heatmap shows.

Pure: the service hands over each resource's open, booked and used intervals for the whole range; the
time of each kind inside each period is found in one pass over the sorted intervals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from backend.domain.intervals import Interval
from backend.domain.report import hours, ratio


class Every(StrEnum):
    day = "day"
    week = "week"
    month = "month"


#: The longest range per period length, so that one answer stays small (a heatmap, not a data dump).
MAX_DAYS = {Every.day: 93, Every.week: 371, Every.month: 3 * 366}


def periods(first: date, last: date, every: Every, zone: ZoneInfo) -> list[Interval]:
    """Consecutive periods from 00:00 of `first` to 24:00 of `last` in `zone` (as UTC times); weeks start
    on Monday, months on the 1st, and the first and last are cut to the range."""

    def local(day: date) -> datetime:
        # In UTC: Python subtracts two times of one zone by their wall clocks, which a DST day breaks.
        return datetime.combine(day, time(), zone).astimezone(UTC)

    end_day = last + timedelta(days=1)
    out: list[Interval] = []
    day = first
    while day < end_day:
        if every is Every.day:
            following = day + timedelta(days=1)
        elif every is Every.week:
            following = day + timedelta(days=7 - day.weekday())
        else:
            following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        following = min(following, end_day)
        out.append(Interval(local(day), local(following)))
        day = following
    return out


Span = tuple[datetime, datetime]
_Seconds = list[tuple[float, float]]


def _merged(spans: Iterable[Span]) -> _Seconds:
    """Sorted, merged [start, end) as POSIX seconds: sums over thousands of spans stay cheap."""
    out: _Seconds = []
    for lo, hi in sorted((s.timestamp(), e.timestamp()) for s, e in spans):
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _both(a: _Seconds, b: _Seconds) -> _Seconds:
    out: _Seconds = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _per_period(merged: _Seconds, bounds: Sequence[tuple[float, float]]) -> list[float]:
    out = [0.0] * len(bounds)
    starts = [lo for lo, _ in bounds]
    for lo, hi in merged:
        k = max(0, bisect.bisect_right(starts, lo) - 1)
        while k < len(bounds) and bounds[k][0] < hi:
            part = min(hi, bounds[k][1]) - max(lo, bounds[k][0])
            if part > 0:
                out[k] += part
            k += 1
    return out


@dataclass(frozen=True)
class Cell:
    start: datetime
    open_hours: float
    booked_hours: float
    used_hours: float
    booked_ratio: float | None  # booked ÷ open
    used_ratio: float | None  # used ÷ open
    used_of_booked: float | None  # (used ∩ booked) ÷ booked, both up to as_of


def cells(
    cuts: Sequence[Interval],
    opened: Iterable[Span],
    booked: Iterable[Span],
    used: Iterable[Span],
    as_of: datetime,
) -> list[Cell]:
    """One resource's cells. `opened`: opening hours less maintenance; `booked`: granted slots; `used`:
    counted usage sessions. Booked time still to come counts as booked, but not in `used_of_booked`."""
    bounds = [(c.start.timestamp(), c.end.timestamp()) for c in cuts]
    now = as_of.timestamp()
    booked_m, used_m = _merged(booked), _merged(used)
    past = [(lo, min(hi, now)) for lo, hi in booked_m if lo < now]
    open_s = _per_period(_merged(opened), bounds)
    booked_s, used_s = _per_period(booked_m, bounds), _per_period(used_m, bounds)
    due_s, kept_s = _per_period(past, bounds), _per_period(_both(used_m, past), bounds)
    return [
        Cell(
            start=cut.start,
            open_hours=hours(open_s[k]),
            booked_hours=hours(booked_s[k]),
            used_hours=hours(used_s[k]),
            booked_ratio=ratio(booked_s[k], open_s[k]),
            used_ratio=ratio(used_s[k], open_s[k]),
            used_of_booked=ratio(kept_s[k], due_s[k]),
        )
        for k, cut in enumerate(cuts)
    ]
