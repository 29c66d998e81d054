"""Figures from usage sessions: clipping to a period, matching a session to its booking, and booked vs actual
for one booking (docs/usage.md). Pure code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

Window = tuple[datetime, datetime]


def clip(start: datetime, end: datetime, period: Window) -> Window | None:
    """The part of [start, end] inside the period; None when they do not meet (touching is not meeting).
    A session of no length yet is inside when its moment is."""
    if start == end:
        return (start, end) if period[0] <= start < period[1] else None
    lo, hi = max(start, period[0]), min(end, period[1])
    return (lo, hi) if lo < hi else None


def overlap(a: Window, b: Window) -> timedelta:
    return max(timedelta(0), min(a[1], b[1]) - max(a[0], b[0]))


def covered(windows: Iterable[Window]) -> timedelta:
    """Total time covered by the windows (overlaps counted once)."""
    total = timedelta(0)
    cur_start: datetime | None = None
    cur_end: datetime | None = None
    for start, end in sorted(windows):
        if cur_end is None or cur_start is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        elif end > cur_end:
            cur_end = end
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


@dataclass(frozen=True)
class BookedSlot:
    id: int
    start: datetime
    end: datetime


def pick_booking(session: Window, bookings: Iterable[BookedSlot]) -> int | None:
    """The booking a session falls in: the one it overlaps most (the earlier on a tie); a session with
    no length yet belongs to the booking containing its start. None = unbooked use."""
    best: tuple[timedelta, datetime, int] | None = None
    for b in bookings:
        shared = overlap(session, (b.start, b.end))
        if shared <= timedelta(0) and not b.start <= session[0] < b.end:
            continue
        if best is None or shared > best[0] or (shared == best[0] and b.start < best[1]):
            best = (shared, b.start, b.id)
    return None if best is None else best[2]


ADJACENT = timedelta(minutes=60)


@dataclass(frozen=True)
class BookingFigures:
    booked_minutes: float
    used_minutes: float
    early_start_minutes: float
    late_start_minutes: float | None  # None: nothing used (yet)
    overrun_minutes: float
    unbooked_adjacent_minutes: float
    no_show: bool
    in_progress: bool

    @property
    def utilization(self) -> float:
        return 0.0 if self.booked_minutes <= 0 else self.used_minutes / self.booked_minutes


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 3)


def booking_figures(
    booked: Window,
    sessions: Sequence[Window],
    unbooked: Sequence[Window],
    now: datetime,
    *,
    could_run: bool = True,
) -> BookingFigures:
    """Booked vs actual for one booking.

    `sessions`: the counted sessions matched to the booking ([start, end] each; an open one ends at its
    newest sample); `unbooked`: counted sessions of the same resource matched to no booking.
    `could_run` is false for bookings that were never meant to run (requested, rejected, cancelled):
    they are never a no-show.
    """
    start, end = booked
    used = covered([w for s in sessions if (w := clip(s[0], s[1], booked)) is not None])
    first = min((s[0] for s in sessions), default=None)
    last = max((s[1] for s in sessions), default=None)
    near = (start - ADJACENT, end + ADJACENT)
    adjacent = covered(
        [
            w
            for s in unbooked
            if (w := clip(s[0], s[1], near)) is not None and overlap(w, booked) == timedelta(0)
        ]
    )
    return BookingFigures(
        booked_minutes=_minutes(end - start),
        used_minutes=_minutes(used),
        early_start_minutes=_minutes(max(timedelta(0), start - first)) if first else 0.0,
        late_start_minutes=_minutes(max(timedelta(0), first - start)) if first else None,
        overrun_minutes=_minutes(max(timedelta(0), last - end)) if last else 0.0,
        unbooked_adjacent_minutes=_minutes(adjacent),
        no_show=could_run and end <= now and used == timedelta(0),
        in_progress=start <= now < end,
    )
