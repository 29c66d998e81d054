"""Half-open time intervals [start, end) and the set algebra the calendar rules need.

Adjacent intervals do not overlap: a booking may end exactly when the next begins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(
                f"interval ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals merged."""
    merged: list[Interval] = []
    for iv in sorted(intervals):
        if merged and iv.start <= merged[-1].end:
            if iv.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged


def subtract(free: Iterable[Interval], busy: Iterable[Interval]) -> list[Interval]:
    """The parts of `free` not covered by any of `busy`."""
    result: list[Interval] = []
    blockers = normalize(busy)
    for iv in normalize(free):
        cursor = iv.start
        for b in blockers:
            if b.end <= cursor:
                continue
            if b.start >= iv.end:
                break
            if b.start > cursor:
                result.append(Interval(cursor, b.start))
            cursor = max(cursor, b.end)
            if cursor >= iv.end:
                break
        if cursor < iv.end:
            result.append(Interval(cursor, iv.end))
    return result


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Times inside both sets."""
    left, right = normalize(a), normalize(b)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            result.append(Interval(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return result


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    return intersect(intervals, [window])


def covers(intervals: Iterable[Interval], wanted: Interval) -> bool:
    """True when `wanted` lies wholly inside one interval of the (merged) set."""
    return any(iv.contains(wanted) for iv in normalize(intervals))
