"""Weekly opening hours in a platform's local time zone, turned into concrete UTC intervals.

Hours are written per weekday as ``[["08:00", "20:00"], ...]``. An end of ``"24:00"`` closes at
midnight; an end at or before the start runs past midnight into the next day (night shifts).
Local wall-clock times are resolved in the platform's IANA zone, so a zone with daylight saving
time gets the right UTC instants on either side of a change.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.domain.intervals import Interval, clip, normalize

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@dataclass(frozen=True)
class Period:
    start_minute: int
    end_minute: int  # may exceed 1440: the period runs into the next day


@dataclass(frozen=True)
class WeeklyHours:
    periods: Mapping[str, tuple[Period, ...]]

    def is_always_closed(self) -> bool:
        return not any(self.periods.values())


def _minutes(text: object, where: str) -> int:
    if not isinstance(text, str) or not _CLOCK.match(text):
        raise ValueError(f"{where}: {text!r} is not a time of day HH:MM (00:00 to 24:00)")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_weekly_hours(raw: Mapping[str, Sequence[Sequence[str]]]) -> WeeklyHours:
    """Validate ``{"mon": [["08:00", "20:00"]], ...}``; raise ValueError naming the bad entry."""
    if not isinstance(raw, Mapping):
        raise ValueError("opening_hours: must be an object keyed by weekday (mon ... sun)")
    unknown = sorted(set(raw) - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"opening_hours: unknown weekday {unknown[0]!r}; use {', '.join(WEEKDAYS)}")
    periods: dict[str, tuple[Period, ...]] = {}
    for day in WEEKDAYS:
        parsed: list[Period] = []
        for index, pair in enumerate(raw.get(day, [])):
            where = f"opening_hours.{day}[{index}]"
            if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                raise ValueError(f'{where}: expected a pair ["HH:MM", "HH:MM"]')
            start, end = _minutes(pair[0], where), _minutes(pair[1], where)
            if start == 1440:
                raise ValueError(f"{where}: a period cannot start at 24:00")
            if end <= start:
                end += 1440
            parsed.append(Period(start, end))
        parsed.sort(key=lambda p: p.start_minute)
        for earlier, later in itertools.pairwise(parsed):
            if later.start_minute < earlier.end_minute:
                raise ValueError(f"opening_hours.{day}: periods overlap")
        periods[day] = tuple(parsed)
    return WeeklyHours(periods)


def _local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall-clock `minute` after midnight of `day` (may be the next day)."""
    wall = datetime.combine(day + timedelta(days=minute // 1440), time(0)) + timedelta(minutes=minute % 1440)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def open_intervals(hours: WeeklyHours, zone: ZoneInfo, window: Interval) -> list[Interval]:
    """Concrete opening periods (UTC) that overlap `window`, clipped to it."""
    first = window.start.astimezone(zone).date() - timedelta(days=1)  # a night shift from the day before
    last = window.end.astimezone(zone).date()
    found: list[Interval] = []
    day = first
    while day <= last:
        for period in hours.periods.get(WEEKDAYS[day.weekday()], ()):
            start, end = _local(day, period.start_minute, zone), _local(day, period.end_minute, zone)
            if start < end:
                found.append(Interval(start, end))
        day += timedelta(days=1)
    return clip(normalize(found), window)
