"""The audit chain without a database: the exact encoding, and that every kind of tampering is found
at the row where it happened."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from backend.domain.audit import (
    EMPTY,
    GENESIS,
    AuditRecord,
    Head,
    NotCanonical,
    encode,
    jsonable,
    next_record,
    verify,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def chain_of(events: list[dict[str, Any]]) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    head = EMPTY
    for i, e in enumerate(events):
        record = next_record(
            head,
            e.get("at", T0 + timedelta(seconds=i)),
            e.get("actor", "system"),
            e.get("action", "booking.approve"),
            e.get("subject_type", "booking"),
            e.get("subject_id", str(i)),
            e.get("platform_id", 1),
            e.get("payload", {}),
        )
        records.append(record)
        head = Head(record.seq, record.hash)
    return records


def head_of(records: list[AuditRecord]) -> Head:
    return Head(records[-1].seq, records[-1].hash) if records else EMPTY


# --- the encoding a third party reimplements (docs/audit.md) ---------------------------------


def test_encoding_is_the_documented_byte_string() -> None:
    moment = datetime(2026, 12, 1, 9, 30, tzinfo=UTC) + timedelta(microseconds=5)
    record = next_record(
        EMPTY,
        moment,
        "user:3",
        "booking.approve",
        "booking",
        "42",
        1,
        {"to": "approved", "from": "requested"},
    )
    expected = (
        '["pilotshare-audit/1",1,"2026-12-01T09:30:00.000005Z","user:3","booking.approve","booking","42",1,'
        '{"from":"requested","to":"approved"},"' + "0" * 64 + '"]'
    ).encode()
    assert record.payload == '{"from":"requested","to":"approved"}'
    assert (
        encode(1, moment, "user:3", "booking.approve", "booking", "42", 1, record.payload, GENESIS)
        == expected
    )
    assert record.hash == hashlib.sha256(expected).hexdigest()
    assert record.prev_hash == GENESIS


def test_times_in_other_zones_encode_as_the_same_utc_instant() -> None:
    shanghai = datetime(2026, 12, 1, 9, 30, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    a = next_record(EMPTY, shanghai, "system", "x", "t", "1", None, {})
    b = next_record(EMPTY, datetime(2026, 12, 1, 9, 30, tzinfo=UTC), "system", "x", "t", "1", None, {})
    assert a.hash == b.hash


def test_non_ascii_is_kept_as_utf8_and_keys_are_sorted() -> None:
    record = next_record(EMPTY, T0, "system", "x", "t", "1", None, {"b": "发酵罐", "a": [1, None, True]})
    assert record.payload == '{"a":[1,null,true],"b":"发酵罐"}'


class Colour(StrEnum):
    red = "red"


def test_payload_values_get_one_canonical_form() -> None:
    value = {
        "price": Decimal("120.50"),
        "day": date(2026, 12, 1),
        "at": datetime(2026, 12, 1, 8, tzinfo=UTC),
        "colour": Colour.red,
        "pair": (1, "x"),
    }
    assert jsonable(value) == {
        "price": "120.50",
        "day": "2026-12-01",
        "at": "2026-12-01T08:00:00.000000Z",
        "colour": "red",
        "pair": [1, "x"],
    }


@pytest.mark.parametrize("bad", [1.5, datetime(2026, 1, 1), {1: "x"}, object()])
def test_values_without_a_canonical_form_are_refused(bad: object) -> None:
    with pytest.raises(NotCanonical):
        next_record(EMPTY, T0, "system", "x", "t", "1", None, {"v": bad})


# --- verification ----------------------------------------------------------------------------

texts = st.text(max_size=12)
payloads = st.dictionaries(
    st.text(max_size=6),
    st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), texts),
    max_size=4,
)
events = st.fixed_dictionaries(
    {
        "actor": st.one_of(st.just("system"), st.integers(1, 999).map(lambda i: f"user:{i}")),
        "action": texts,
        "subject_type": texts,
        "subject_id": texts,
        "platform_id": st.one_of(st.none(), st.integers(1, 50)),
        "payload": payloads,
    }
)
chains = st.lists(events, min_size=1, max_size=8).map(chain_of)


@given(st.lists(events, max_size=8).map(chain_of))
def test_an_untouched_chain_verifies(records: list[AuditRecord]) -> None:
    verdict = verify(records, head_of(records))
    assert verdict.ok and verdict.first_bad is None
    assert verdict.events == len(records)
    assert verdict.head == head_of(records)


def _changed(record: AuditRecord, field: str, data: st.DataObject) -> AuditRecord:
    old = getattr(record, field)
    if field == "seq":
        new: object = data.draw(st.integers(0, 20).filter(lambda v: v != old))
    elif field == "at":
        new = old + timedelta(microseconds=data.draw(st.integers(1, 10**9)))
    elif field == "platform_id":
        new = data.draw(st.one_of(st.none(), st.integers(1, 60)).filter(lambda v: v != old))
    elif field == "payload":
        new = next_record(EMPTY, T0, "", "", "", "", None, data.draw(payloads)).payload
        assume(new != old)
    elif field in ("prev_hash", "hash"):
        new = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64).filter(lambda v: v != old))
    else:
        new = data.draw(texts.filter(lambda v: v != old))
    return dataclasses.replace(record, **{field: new})


FIELDS = [f.name for f in dataclasses.fields(AuditRecord)]


@given(chains, st.sampled_from(FIELDS), st.data())
def test_changing_any_one_field_of_any_row_names_that_row(
    records: list[AuditRecord], field: str, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(records) - 1))
    head = head_of(records)
    tampered = [*records[:i], _changed(records[i], field, data), *records[i + 1 :]]
    verdict = verify(tampered, head)
    assert not verdict.ok
    assert verdict.first_bad is not None and verdict.first_bad.expected_seq == i + 1, verdict


@given(chains, st.data())
def test_removing_a_row_names_the_place_it_was_taken_from(
    records: list[AuditRecord], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(records) - 1))
    verdict = verify([*records[:i], *records[i + 1 :]], head_of(records))
    assert not verdict.ok
    assert verdict.first_bad is not None and verdict.first_bad.expected_seq == i + 1
    if i == len(records) - 1:
        assert verdict.first_bad.seq is None  # nothing is left there; only the head knew it existed


def test_without_the_head_a_removed_last_row_goes_unnoticed() -> None:
    """Why the head is stored and reported: the chain alone cannot tell that its tail was cut."""
    records = chain_of([{}, {}, {}])
    assert verify(records[:-1]).ok
    assert not verify(records[:-1], head_of(records)).ok


@given(chains, st.data(), st.booleans())
def test_inserting_a_row_names_the_insertion_point_or_the_row_it_pushed_aside(
    records: list[AuditRecord], data: st.DataObject, well_forged: bool
) -> None:
    i = data.draw(st.integers(0, len(records)))
    before = head_of(records[:i])
    if well_forged:  # a row chained correctly onto its predecessor, as an insider with the code would make
        forged = next_record(before, T0, "user:666", "rate.delete", "rate", "1", 1, data.draw(payloads))
        fits = True
    else:  # a copy of an existing row; a copy of the row it is put in front of fits there too
        k = data.draw(st.integers(0, len(records) - 1))
        forged, fits = records[k], k == i
    verdict = verify([*records[:i], forged, *records[i:]], head_of(records))
    assert not verdict.ok and verdict.first_bad is not None
    # a row that fits where it stands pushes the break to the row it displaced; at the end, the head
    # names it
    expected = i + 2 if fits and i < len(records) else i + 1
    assert verdict.first_bad.expected_seq == expected, verdict


@given(st.lists(events, min_size=2, max_size=8).map(chain_of), st.data())
def test_swapping_two_rows_names_the_first_of_them(records: list[AuditRecord], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(records) - 2))
    j = data.draw(st.integers(i + 1, len(records) - 1))
    moved = list(records)
    moved[i], moved[j] = moved[j], moved[i]
    verdict = verify(moved, head_of(records))
    assert not verdict.ok
    assert verdict.first_bad is not None and verdict.first_bad.expected_seq == i + 1


def test_a_payload_rewritten_to_equal_but_non_canonical_text_is_found() -> None:
    records = chain_of([{"payload": {"a": 1}}, {}])
    spaced = dataclasses.replace(records[0], payload='{"a": 1}')
    verdict = verify([spaced, records[1]], head_of(records))
    assert verdict.first_bad is not None and verdict.first_bad.expected_seq == 1
    assert "canonical" in verdict.first_bad.reason


def test_a_row_beyond_the_recorded_head_is_named() -> None:
    records = chain_of([{}, {}, {}])
    verdict = verify(records, head_of(records[:2]))
    assert verdict.first_bad is not None and verdict.first_bad.expected_seq == 3
