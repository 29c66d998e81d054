"""Ingest's fast telemetry decoder accepts exactly what the contract's validator accepts, gives the same
samples, and refuses with the validator's own reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.ingest.decode import FieldValue, decode_telemetry, latest_values
from edge_agent.protocol import Channel, PayloadError, parse_payload

T0 = 1_796_083_200_000_000_000

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
names = st.sampled_from(["temp_c", "state", "time", "", "x" * 65, "x" * 64, "温度", "a b"]) | st.text(
    max_size=6
)
timestamps = (
    st.integers(min_value=T0 - 10**18, max_value=T0 + 10**18)
    | st.sampled_from(
        ["2026-12-01T08:00:00+08:00", "2026-12-01T08:00:00.123456789Z", "2026-12-01 08:00:00", "x", 10**16]
    )
    | json_scalars
)
valid_values = st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
valid_samples = st.fixed_dictionaries(
    {
        "ts": st.integers(min_value=10**17, max_value=2**63) | st.just("2026-12-01T08:00:00.123456789Z"),
        "fields": st.dictionaries(
            st.sampled_from(["temp_c", "state", "x" * 64, "温度", "a b"]),
            valid_values | st.text(max_size=6),
            min_size=1,
            max_size=4,
        ),
    }
)
hostile_samples = (
    st.fixed_dictionaries(
        {
            "ts": timestamps,
            "fields": st.dictionaries(names, json_scalars | st.lists(st.integers()), max_size=4),
        }
    )
    | json_scalars
)
samples = st.one_of(
    valid_samples, valid_samples, valid_samples, valid_samples, valid_samples, hostile_samples
)
hostile_payloads = st.fixed_dictionaries(
    {
        "agent": json_scalars,
        "seq": json_scalars | st.sampled_from(["5", 1.0, True, -1]),
        "samples": st.lists(samples, max_size=4),
    },
    optional={"extra": json_scalars},
)
likely_payloads = st.fixed_dictionaries(
    {
        "agent": st.sampled_from(["a-1", "agent 7", "a-1", ""]),
        "seq": st.integers(min_value=-1, max_value=2**65),
        "samples": st.lists(samples, min_size=1, max_size=3),
    }
)
payloads = st.one_of(likely_payloads, likely_payloads, likely_payloads, hostile_payloads)


def _contract(raw: bytes) -> Any:
    try:
        model = parse_payload(Channel.TELEMETRY, raw)
    except PayloadError as exc:
        return ("refused", str(exc))
    return ("ok", model.agent, model.seq, model.points())


def _fast(raw: bytes) -> Any:
    try:
        message = decode_telemetry(raw)
    except PayloadError as exc:
        return ("refused", str(exc))
    return ("ok", message.agent, message.seq, message.points)


@settings(max_examples=600, deadline=None)
@given(payload=payloads)
def test_same_verdict_and_samples_as_the_contract(payload: dict[str, Any]) -> None:
    raw = json.dumps(payload).encode()
    assert _fast(raw) == _contract(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"agent": "a", "seq": 1, "samples": [{"ts": 1796083200000000000, "fields": {"x": NaN}}]}',
        b'{"agent": "a", "seq": 1, "samples": [{"ts": 1796083200000000000, "fields": {"x": 1e400}}]}',
        b'{"agent": "a", "seq": 1, "samples": [{"ts": 1796083200, "fields": {"x": 1}}]}',
        b'{"agent": "a", "seq": 1, "samples": [{"ts": 1796083200000000000, "fields": {"time": 1}}]}',
        b'\xff{"agent": "a"}',
    ],
)
def test_refusals_name_what_is_wrong_as_before(raw: bytes) -> None:
    verdict = _fast(raw)
    assert verdict[0] == "refused"
    assert verdict == _contract(raw)


def test_latest_value_per_field_by_device_time() -> None:
    points = [(T0 + 2, {"a": 2.0, "b": "x"}), (T0 + 1, {"a": 1.0, "c": True}), (T0 + 2, {"a": 3.0})]
    assert latest_values(points) == {"a": (T0 + 2, 3.0), "b": (T0 + 2, "x"), "c": (T0 + 1, True)}


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.dictionaries(st.sampled_from("abcd"), st.integers() | st.booleans(), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
)
def test_latest_values_in_order_or_not_are_those_of_a_full_sort(
    points: list[tuple[int, dict[str, FieldValue]]], in_order: bool
) -> None:
    """The shortcut for a message in time order gives what sorting and replaying every sample gives."""
    if in_order:
        points = sorted(points, key=lambda point: point[0])
    expected: dict[str, tuple[int, FieldValue]] = {}
    for ts_ns, fields in sorted(points, key=lambda point: point[0]):
        expected.update({name: (ts_ns, value) for name, value in fields.items()})
    assert latest_values(points) == expected
