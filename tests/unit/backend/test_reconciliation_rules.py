"""Reconciling one booking with its measured use, and the reproducible spot-check sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.reconciliation import Category, reconcile, sample

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
SLOT = (T0, T0 + timedelta(hours=3))
LATER = T0 + timedelta(days=1)


def minutes(a: float, b: float) -> tuple[datetime, datetime]:
    return T0 + timedelta(minutes=a), T0 + timedelta(minutes=b)


@pytest.mark.parametrize(
    ("sessions", "expected"),
    [
        ([minutes(-5, 182)], {Category.on_time}),  # within 15 min either way
        ([minutes(40, 180)], {Category.late_start}),
        ([minutes(0, 200)], {Category.overrun}),
        ([minutes(0, 120)], {Category.early_finish}),
        ([minutes(30, 120)], {Category.late_start, Category.early_finish}),
        ([minutes(0, 60), minutes(90, 200)], {Category.overrun}),  # the last session decides the end
        ([], {Category.no_show}),
    ],
)
def test_categories_of_a_finished_booking(
    sessions: list[tuple[datetime, datetime]], expected: set[Category]
) -> None:
    assert reconcile(SLOT, sessions, LATER).categories == expected


def test_a_booking_not_over_yet_is_pending_not_a_no_show() -> None:
    during = T0 + timedelta(hours=1)
    result = reconcile(SLOT, [], during)
    assert result.categories == {Category.pending} and result.early_finish_minutes is None


def test_figures_come_with_the_categories() -> None:
    result = reconcile(SLOT, [minutes(30, 150)], LATER)
    assert result.figures.used_minutes == 120 and result.figures.late_start_minutes == 30
    assert result.early_finish_minutes == 30


def test_the_sample_is_reproducible_and_independent_of_order() -> None:
    ids = list(range(1, 200))
    first = sample(ids, 5, seed=1234)
    assert len(first) == 5 and first == sorted(first) and set(first) <= set(ids)
    assert sample(reversed(ids), 5, seed=1234) == first
    assert sample(ids, 5, seed=1235) != first


def test_a_sample_larger_than_the_population_is_all_of_it() -> None:
    assert sample([3, 1, 2, 2], 10, seed=0) == [1, 2, 3]
