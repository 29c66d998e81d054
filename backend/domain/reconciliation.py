"""Reconciling bookings with measured use, for auditors' spot checks (docs/reports.md, "Reconciliation").

Pure code: a booking's slot and the counted usage sessions the ingest matched to it give its figures
(`usage_figures.booking_figures`) and the categories below; a seeded sample picks bookings to check by
hand, the same ones again for the same seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backend.domain.usage_figures import BookingFigures, Window, booking_figures

#: Deviations up to this are on time: a run that starts ten minutes late is not worth an auditor's question.
TOLERANCE = timedelta(minutes=15)
#: The most bookings one spot check samples.
MAX_SAMPLE = 100


class Category(StrEnum):
    on_time = "on_time"
    late_start = "late_start"
    overrun = "overrun"
    early_finish = "early_finish"
    no_show = "no_show"
    unbooked = "unbooked"  # use without a booking: a usage session, not a booking
    pending = "pending"  # not over yet: nothing to judge


#: The categories a booking can fall in, in the order pages list them.
BOOKING_CATEGORIES = (
    Category.on_time,
    Category.late_start,
    Category.overrun,
    Category.early_finish,
    Category.no_show,
    Category.pending,
)


@dataclass(frozen=True)
class Reconciled:
    figures: BookingFigures
    early_finish_minutes: float | None  # None: nothing used, or not over yet
    categories: frozenset[Category]


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 3)


def reconcile(
    booked: Window,
    sessions: Sequence[Window],
    now: datetime,
    *,
    could_run: bool = True,
    tolerance: timedelta = TOLERANCE,
) -> Reconciled:
    """Booked `[start, end)` against the counted sessions matched to it (`[start, end]` each).

    A booking not over yet is `pending`. Otherwise: `no_show` when nothing was used; else any of
    `late_start` (its first session began more than `tolerance` after the start), `overrun` (its last
    session ended more than `tolerance` after the end), `early_finish` (its last session ended more than
    `tolerance` before the end); `on_time` when none of these.
    """
    figures = booking_figures(booked, sessions, [], now, could_run=could_run)
    end = booked[1]
    last = max((s[1] for s in sessions), default=None)
    early = _minutes(max(timedelta(0), end - last)) if last is not None and end <= now else None
    if now < end:
        return Reconciled(figures, None, frozenset({Category.pending}))
    if figures.no_show or last is None:
        return Reconciled(figures, early, frozenset({Category.no_show}))
    limit = _minutes(tolerance)
    found = set()
    if figures.late_start_minutes is not None and figures.late_start_minutes > limit:
        found.add(Category.late_start)
    if figures.overrun_minutes > limit:
        found.add(Category.overrun)
    if early is not None and early > limit:
        found.add(Category.early_finish)
    return Reconciled(figures, early, frozenset(found or {Category.on_time}))


def sample(ids: Iterable[int], n: int, seed: int) -> list[int]:
    """`n` of the ids chosen at random, the same ones for the same ids and seed whatever their order;
    all of them when there are no more than `n`. Sorted."""
    population = sorted(set(ids))
    if n >= len(population):
        return population
    return sorted(random.Random(seed).sample(population, max(0, n)))
