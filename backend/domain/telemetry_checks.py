"""What ingest refuses or holds back before telemetry can change a figure (docs/security.md, docs/ingest.md).

A broker can be misconfigured and an agent's clock can be wrong, so ingest does not take every sample
as given:

- a sample stamped more than the allowed clock skew after ingest's own clock is **refused**: it would
  count as use that has not happened and move the usage cursor so that real data arrives "late";
- a sample inside a period already settled (a month invoiced for the platform) is **quarantined**: kept
  for an operator's review instead of changing figures that were paid or reported.

Neither kind reaches InfluxDB, the twin or the usage sessions. Separately, :class:`SeqRanges` keeps which
message numbers (``seq``) of an agent arrived, as a few ranges, so the messages that never arrived are
counted whatever order or worker they came through.

Pure code: the caller gives the clock and the settled periods.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

#: reasons, as stored and shown in the report and /metrics
REFUSED_FUTURE = "future"
QUARANTINED_SETTLED = "settled"


class QuarantineDecision(StrEnum):
    """What a reviewer decides on a quarantined message. Neither changes a settled month's figures.

    - ``release``: genuine data that came late; its samples go into the telemetry store, so the run data
      of the booking it belongs to is complete;
    - ``discard``: not to be used (a forgery, a misconfigured agent); the samples stay as evidence.
    """

    release = "release"
    discard = "discard"


Point = tuple[int, dict[str, Any]]  # (epoch ns, fields) of one sample
Period = tuple[int, int]  # [start, end) in epoch ns

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_datetime(ns: int) -> datetime:
    """Epoch ns as an aware UTC datetime, exact to the microsecond (integer arithmetic; ingest calls it
    once per `state` sample)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def datetime_to_ns(moment: datetime) -> int:
    """An aware datetime as epoch ns (whole microseconds, as `ns_to_datetime` gives them back)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass
class Sorted:
    """One message's samples: those ingest takes, and those it refuses or quarantines."""

    kept: list[Point] = field(default_factory=list)
    future: list[Point] = field(default_factory=list)
    settled: list[Point] = field(default_factory=list)


def sort_samples(points: Sequence[Point], now_ns: int, max_skew_ns: int, settled: Sequence[Period]) -> Sorted:
    """Split samples into kept, refused (future) and quarantined (inside a settled period)."""
    out = Sorted()
    limit = now_ns + max_skew_ns
    if not settled and (not points or max(point[0] for point in points) <= limit):
        out.kept = list(points)  # the common message: nothing to hold back
        return out
    for point in points:
        ts = point[0]
        if ts > limit:
            out.future.append(point)
        elif settled and any(start <= ts < end for start, end in settled):
            out.settled.append(point)
        else:
            out.kept.append(point)
    return out


def is_future(ts_ns: int, now_ns: int, max_skew_ns: int) -> bool:
    return ts_ns > now_ns + max_skew_ns


def in_periods(ts_ns: int, periods: Sequence[Period]) -> bool:
    return any(start <= ts_ns < end for start, end in periods)


@dataclass
class SeqRanges:
    """The ``seq`` numbers of one agent's messages that arrived, as sorted, disjoint, inclusive ranges.

    Adding a number twice changes nothing (at-least-once delivery), and numbers may come in any order
    (several ingest workers share the stream), so :attr:`missing` counts exactly the messages between the
    first and the newest that have not arrived (yet: a hole closing a moment later was only late).
    """

    ranges: list[list[int]] = field(default_factory=list)

    def add(self, seqs: Iterable[int]) -> bool:
        """Take these numbers in; True when anything new arrived."""
        before = [list(r) for r in self.ranges]
        for seq in sorted(set(seqs)):
            self._add(seq)
        return self.ranges != before

    def _add(self, seq: int) -> None:
        ranges = self.ranges
        lo, hi = 0, len(ranges)
        while lo < hi:  # the first range starting after seq
            mid = (lo + hi) // 2
            if ranges[mid][0] > seq:
                hi = mid
            else:
                lo = mid + 1
        before = ranges[lo - 1] if lo > 0 else None
        after = ranges[lo] if lo < len(ranges) else None
        if before is not None and seq <= before[1]:
            return
        joins_before = before is not None and before[1] == seq - 1
        joins_after = after is not None and after[0] == seq + 1
        if joins_before and joins_after:
            assert before is not None and after is not None
            before[1] = after[1]
            del ranges[lo]
        elif joins_before:
            assert before is not None
            before[1] = seq
        elif joins_after:
            assert after is not None
            after[0] = seq
        else:
            ranges.insert(lo, [seq, seq])

    @property
    def missing(self) -> int:
        return sum(b[0] - a[1] - 1 for a, b in zip(self.ranges, self.ranges[1:], strict=False))
