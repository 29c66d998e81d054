"""Interval algebra, checked by example and by properties over random interval sets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.intervals import Interval, covers, intersect, normalize, subtract

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def iv(a: int, b: int) -> Interval:
    return Interval(T0 + timedelta(minutes=a), T0 + timedelta(minutes=b))


def test_touching_intervals_do_not_overlap() -> None:
    assert not iv(0, 60).overlaps(iv(60, 120))
    assert iv(0, 61).overlaps(iv(60, 120))


def test_empty_or_reversed_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        iv(60, 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_subtract_cuts_holes() -> None:
    assert subtract([iv(0, 600)], [iv(60, 120), iv(300, 360)]) == [iv(0, 60), iv(120, 300), iv(360, 600)]
    assert subtract([iv(0, 60)], [iv(0, 60)]) == []
    assert subtract([iv(0, 60)], [iv(60, 120)]) == [iv(0, 60)]


def test_normalize_merges_touching_and_overlapping() -> None:
    assert normalize([iv(60, 120), iv(0, 60), iv(100, 200), iv(300, 400)]) == [iv(0, 200), iv(300, 400)]


minute_sets = st.lists(
    st.tuples(st.integers(0, 2000), st.integers(1, 300)).map(lambda t: iv(t[0], t[0] + t[1])), max_size=8
)


def _minutes(intervals: list[Interval]) -> set[int]:
    out: set[int] = set()
    for i in intervals:
        start = int((i.start - T0).total_seconds() // 60)
        out.update(range(start, start + int(i.duration.total_seconds() // 60)))
    return out


@given(minute_sets, minute_sets)
def test_subtract_and_intersect_agree_with_minute_sets(free: list[Interval], busy: list[Interval]) -> None:
    assert _minutes(subtract(free, busy)) == _minutes(free) - _minutes(busy)
    assert _minutes(intersect(free, busy)) == _minutes(free) & _minutes(busy)


@given(minute_sets)
def test_normalized_sets_are_sorted_and_disjoint(intervals: list[Interval]) -> None:
    merged = normalize(intervals)
    assert _minutes(merged) == _minutes(intervals)
    for a, b in itertools.pairwise(merged):
        assert a.end < b.start


@given(minute_sets, st.integers(0, 2000), st.integers(1, 300))
def test_covers_means_every_minute_is_free(free: list[Interval], start: int, length: int) -> None:
    # Merged intervals are maximal, so a contiguous run of free minutes lies inside one of them.
    wanted = iv(start, start + length)
    assert covers(free, wanted) == (_minutes([wanted]) <= _minutes(free))
