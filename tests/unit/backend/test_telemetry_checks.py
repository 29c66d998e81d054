"""Ingest's checks: future samples refused, settled periods quarantined, missing messages counted exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.domain.telemetry_checks import SeqRanges, sort_samples

S = 1_000_000_000
NOW = 1_800_000_000 * S


def test_samples_beyond_the_skew_are_refused_and_settled_ones_quarantined() -> None:
    october = (NOW - 40 * 86400 * S, NOW - 10 * 86400 * S)
    points = [
        (NOW - 20 * 86400 * S, {"state": "running"}),  # in the invoiced month
        (NOW - 60 * S, {"state": "running"}),
        (NOW + 299 * S, {"state": "running"}),  # within the allowed skew
        (NOW + 7 * 86400 * S, {"state": "running"}),  # next week
    ]
    out = sort_samples(points, NOW, 300 * S, [october])
    assert [p[0] for p in out.kept] == [NOW - 60 * S, NOW + 299 * S]
    assert [p[0] for p in out.future] == [NOW + 7 * 86400 * S]
    assert [p[0] for p in out.settled] == [NOW - 20 * 86400 * S]
    assert sort_samples(points, NOW, 300 * S, []).settled == []


@given(st.lists(st.integers(0, 300), max_size=200), st.randoms())
def test_missing_messages_are_the_holes_whatever_the_order_and_repeats(seqs: list[int], rnd: object) -> None:
    ranges = SeqRanges()
    shuffled = seqs + seqs[: len(seqs) // 2]  # at-least-once: some come twice
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for chunk in (shuffled[i : i + 7] for i in range(0, len(shuffled), 7)):
        ranges.add(chunk)
    seen = set(seqs)
    expected = (max(seen) - min(seen) + 1 - len(seen)) if seen else 0
    assert ranges.missing == expected
    assert all(a[1] + 1 < b[0] for a, b in zip(ranges.ranges, ranges.ranges[1:], strict=False))
    assert not ranges.add(seqs)  # nothing new the second time
