"""Free time of a resource: opening hours, minus maintenance windows, minus bookings.

A pilot line is free only when the line itself and every instrument it is made of are free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from backend.domain.intervals import Interval, intersect, subtract
from backend.domain.opening_hours import WeeklyHours, open_intervals, parse_weekly_hours


@dataclass(frozen=True)
class Calendar:
    """What decides when one resource can be used."""

    hours: Mapping[str, Any] | None  # weekly hours; None = open around the clock
    zone: ZoneInfo
    blocked: Sequence[Interval] = field(default_factory=tuple)  # maintenance, bookings
    usable: bool = True  # False for a retired resource or one under maintenance


def opening_periods(calendar: Calendar, window: Interval) -> list[Interval]:
    """When the resource is open inside `window`, before anything is blocked."""
    if calendar.hours is None:
        return [window]
    return open_intervals(_weekly_hours(calendar.hours), calendar.zone, window)


def _weekly_hours(raw: Mapping[str, Any]) -> WeeklyHours:
    """The parsed hours; a calendar's few distinct week plans are parsed once, not on every query."""
    try:
        frozen = tuple((day, tuple(tuple(pair) for pair in pairs)) for day, pairs in raw.items())
        hash(frozen)
    except (AttributeError, TypeError):  # not the stored shape: let the parser name what is wrong
        return parse_weekly_hours(raw)
    return _parsed(frozen)


@lru_cache(maxsize=256)
def _parsed(frozen: tuple[tuple[str, tuple[tuple[Any, ...], ...]], ...]) -> WeeklyHours:
    return parse_weekly_hours({day: [list(pair) for pair in pairs] for day, pairs in frozen})


def free_intervals(calendar: Calendar, window: Interval) -> list[Interval]:
    if not calendar.usable:
        return []
    return subtract(opening_periods(calendar, window), calendar.blocked)


def free_intervals_of_line(line: Calendar, members: Sequence[Calendar], window: Interval) -> list[Interval]:
    free = free_intervals(line, window)
    for member in members:
        free = intersect(free, free_intervals(member, window))
    return free
