"""The audit chain: each event's hash covers its contents and the hash of the event before it.

Pure code: the services store and load events, this module encodes, hashes and verifies them.
The encoding is specified in docs/audit.md so that anyone can check a chain with their own script:

    hash = hex(SHA-256(UTF-8(canonical_json([VERSION, seq, time, actor, action,
                                              subject_type, subject_id, platform_id, payload, prev_hash]))))

canonical_json is RFC 8785 (JCS) for the values PilotShare writes: object keys sorted, no whitespace,
no floats (amounts and hours are decimal strings), non-ASCII characters as raw UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

VERSION = "pilotshare-audit/1"
GENESIS = "0" * 64

JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]


class NotCanonical(ValueError):
    """A payload value that has no single canonical JSON form (a float, a naive time, an unknown type)."""


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with exactly six fraction digits and a `Z`: one spelling per instant."""
    if moment.tzinfo is None:
        raise NotCanonical("audit times must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def jsonable(value: Any) -> JSONValue:
    """`value` as plain JSON data with one canonical form; refuses what has none.

    Decimals become strings (e.g. "120.50"), times `timestamp()`, dates ISO dates, enums their value.
    Floats are refused: their text form differs between languages, so a third party could not
    reproduce the hash.
    """
    if isinstance(value, Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"payload keys must be strings, got {key!r}")
            out[key] = jsonable(item)
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, float):
        raise NotCanonical(f"floats have no canonical form; pass a Decimal or a string (got {value!r})")
    raise NotCanonical(f"cannot put a {type(value).__name__} into an audit payload")


def canonical_json(value: JSONValue) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class AuditRecord:
    """One event as stored: `payload` is its canonical JSON text, `hash` what was computed when written."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    platform_id: int | None
    payload: str
    prev_hash: str
    hash: str


def encode(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    platform_id: int | None,
    payload: str,
    prev_hash: str,
) -> bytes:
    """The bytes the hash covers. `payload` is embedded as JSON data, not as a string."""
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise NotCanonical(f"payload is not JSON: {exc}") from None
    fields: list[JSONValue] = [
        VERSION,
        seq,
        timestamp(at),
        actor,
        action,
        subject_type,
        subject_id,
        platform_id,
        data,
        prev_hash,
    ]
    return canonical_json(fields).encode("utf-8")


def compute_hash(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    platform_id: int | None,
    payload: str,
    prev_hash: str,
) -> str:
    encoded = encode(seq, at, actor, action, subject_type, subject_id, platform_id, payload, prev_hash)
    return hashlib.sha256(encoded).hexdigest()


def hash_of(record: AuditRecord) -> str:
    """What `record.hash` should be, recomputed from the record's contents."""
    return compute_hash(
        record.seq,
        record.at,
        record.actor,
        record.action,
        record.subject_type,
        record.subject_id,
        record.platform_id,
        record.payload,
        record.prev_hash,
    )


@dataclass(frozen=True)
class Head:
    """The newest event of a chain: its sequence number and hash (seq 0 and GENESIS when empty)."""

    seq: int
    hash: str


EMPTY = Head(0, GENESIS)


def next_record(
    head: Head,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    platform_id: int | None,
    payload: Mapping[str, Any],
) -> AuditRecord:
    """The event that follows `head`."""
    text = canonical_json(jsonable(payload))
    seq = head.seq + 1
    digest = compute_hash(seq, at, actor, action, subject_type, subject_id, platform_id, text, head.hash)
    return AuditRecord(seq, at, actor, action, subject_type, subject_id, platform_id, text, head.hash, digest)


@dataclass(frozen=True)
class BadRow:
    """Where a chain first breaks. `expected_seq` is the position in the chain (1 = first event);
    `seq` the sequence number of the row found there (None when the row is missing)."""

    expected_seq: int
    seq: int | None
    reason: str


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    head: Head
    first_bad: BadRow | None


def verify(records: Iterable[AuditRecord], recorded_head: Head | None = None) -> Verdict:
    """Walk the chain in storage order (by seq) and name the first row that does not fit.

    A changed field breaks that row's hash; a removed or inserted row breaks the sequence; a row
    moved breaks both. `recorded_head` (kept beside the chain, see services.audit) also catches
    rows removed from the end, which leave no gap behind them, and rows added after it.
    """
    expected = EMPTY
    count = 0
    for record in records:
        count += 1
        position = expected.seq + 1
        fault = _first_fault(record, position, expected.hash)
        if fault is None and recorded_head is not None and position > recorded_head.seq:
            fault = f"the chain head records seq {recorded_head.seq}: this event was added behind its back"
        if fault is not None:
            return Verdict(False, count, expected, BadRow(position, record.seq, fault))
        expected = Head(record.seq, record.hash)
    if recorded_head is None or recorded_head == expected:
        return Verdict(True, count, expected, None)
    if recorded_head.seq > expected.seq:
        fault = (
            f"the chain ends at seq {expected.seq} but its head records seq {recorded_head.seq}: "
            "events were removed from the end"
        )
        return Verdict(False, count, expected, BadRow(expected.seq + 1, None, fault))
    fault = "the chain head records another hash for this event"
    return Verdict(False, count, expected, BadRow(expected.seq, expected.seq, fault))


def _first_fault(record: AuditRecord, position: int, prev_hash: str) -> str | None:
    if record.seq != position:
        if record.seq > position:
            return f"expected seq {position}, found {record.seq}: events are missing before this one"
        return f"expected seq {position}, found {record.seq}: an event was inserted or moved here"
    if record.prev_hash != prev_hash:
        return "prev_hash is not the hash of the event before it"
    try:
        digest = hash_of(record)
    except NotCanonical as exc:
        return f"the row cannot be encoded: {exc}"
    if digest != record.hash:
        return "hash does not match the row's contents (a field was changed)"
    if canonical_json(json.loads(record.payload)) != record.payload:
        return "payload is not in canonical form (its text was rewritten)"
    return None
