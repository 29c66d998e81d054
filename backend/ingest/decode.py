"""Telemetry payloads decoded and checked a whole message at a time (ingest's hot path).

`edge_agent.protocol.parse_payload` is the contract's one validator: a pydantic model per sample, with a
Python check per field. That made validation the largest share of ingest's time (docs/performance.md),
so ingest first decodes a telemetry message with msgspec into plain structs and checks in bulk what
msgspec's types do not already guarantee (lengths, the reserved field name, the timestamp range).

Whenever that fast path is not sure (anything malformed, anything it does not accept outright), the
message goes through `parse_payload` instead, which either accepts it (pydantic is more lenient on a few
shapes, e.g. `"seq": "5"`) or raises the `PayloadError` naming the bad field. So the fast path never
accepts what the contract refuses, and a refused message gets exactly the reason it got before
(tests/unit/backend/test_ingest_decode.py compares the two on generated payloads).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter, le
from typing import Any

import msgspec

from edge_agent.protocol import (
    MAX_SAMPLES_PER_MESSAGE,
    MIN_EPOCH_NS,
    Channel,
    PayloadError,
    Telemetry,
    parse_payload,
    to_epoch_ns,
)

FieldValue = bool | int | float | str
Point = tuple[int, dict[str, FieldValue]]  # (epoch ns, fields) of one sample

MAX_FIELD_NAME = 64
_KNOWN_NAMES_CAP = 10_000


class _Sample(msgspec.Struct, gc=False):
    ts: int | str
    # msgspec decodes no NaN or infinity (JSON has neither; 1e400 is refused as out of range), so every
    # float here is finite, as the contract asks.
    fields: dict[str, FieldValue]


class _Telemetry(msgspec.Struct, gc=False):
    agent: str
    seq: int
    samples: list[_Sample]


_DECODER = msgspec.json.Decoder(_Telemetry)


class _NotSure(Exception):
    """The fast path does not accept this message; the contract's validator decides."""


@dataclass(frozen=True, slots=True)
class TelemetryMessage:
    agent: str
    seq: int
    points: list[Point]  # in the message's order


class _FieldNames:
    """Field names already found valid; a message whose names are all known needs no per-name check."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def check(self, fields: dict[str, FieldValue]) -> None:
        if not fields:
            raise _NotSure
        if self.known.issuperset(fields):
            return
        for name in fields:
            if not name or len(name) > MAX_FIELD_NAME or name == "time":
                raise _NotSure
            if len(self.known) < _KNOWN_NAMES_CAP:
                self.known.add(name)


_NAMES = _FieldNames()


def _timestamp(ts: int | str) -> int:
    if type(ts) is int:
        if ts < MIN_EPOCH_NS:
            raise _NotSure
        return ts
    try:
        return to_epoch_ns(ts)
    except ValueError:
        raise _NotSure from None


def _fast(payload: bytes) -> TelemetryMessage:
    try:
        message = _DECODER.decode(payload)
    except msgspec.DecodeError:
        raise _NotSure from None
    samples = message.samples
    if not message.agent or message.seq < 0 or not 1 <= len(samples) <= MAX_SAMPLES_PER_MESSAGE:
        raise _NotSure
    known, check = _NAMES.known, _NAMES.check
    points = []
    for sample in samples:
        fields, ts = sample.fields, sample.ts
        if not (fields and known.issuperset(fields)):
            check(fields)
        points.append((ts if type(ts) is int and ts >= MIN_EPOCH_NS else _timestamp(ts), fields))
    return TelemetryMessage(message.agent, message.seq, points)


def decode_telemetry(payload: bytes) -> TelemetryMessage:
    """The samples as (epoch ns, fields); PayloadError naming the field when it breaks the contract."""
    try:
        return _fast(payload)
    except _NotSure:
        pass
    model: Telemetry = parse_payload(Channel.TELEMETRY, payload)
    return TelemetryMessage(model.agent, model.seq, model.points())


_TS = itemgetter(0)


def in_time_order(points: list[Point]) -> list[Point]:
    """Oldest first; samples with the same timestamp keep their order (a later one wins, as before)."""
    return sorted(points, key=_TS)


def latest_values(points: list[Point]) -> dict[str, tuple[int, FieldValue]]:
    """Per field, the (ts ns, value) of its newest sample; on equal timestamps the later sample wins."""
    times = [ts for ts, _ in points]
    if all(map(le, times, times[1:])):
        # In time order, as a message almost always is: newest first, each name once.
        newest: dict[str, tuple[int, FieldValue]] = {}
        for ts_ns, fields in reversed(points):
            if newest.keys() >= fields.keys():
                continue
            for name, value in fields.items():
                if name not in newest:
                    newest[name] = (ts_ns, value)
        return newest
    ts_of: dict[str, int] = {}
    values: dict[str, Any] = {}
    for ts_ns, fields in in_time_order(points):
        ts_of.update(dict.fromkeys(fields, ts_ns))
        values.update(fields)
    return {name: (ts_of[name], value) for name, value in values.items()}


__all__ = ["PayloadError", "Point", "TelemetryMessage", "decode_telemetry", "in_time_order", "latest_values"]
