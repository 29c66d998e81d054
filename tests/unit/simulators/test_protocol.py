"""The MQTT contract: topics round-trip, good payloads parse, bad ones are refused naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent import protocol as p

NS = 1_796_083_200_000_000_000


def test_topic_round_trip() -> None:
    for ch in p.Channel:
        t = p.topic("jinan-bio", "F50-1", ch)
        assert p.parse_topic(t) == p.TopicParts("jinan-bio", "F50-1", ch)
    assert p.cmd_ack_topic("jinan-bio", "F5-1") == "pilotshare/v1/jinan-bio/F5-1/cmd/ack"
    assert p.subscription("jinan-bio", channel="telemetry") == "pilotshare/v1/jinan-bio/+/telemetry"


@pytest.mark.parametrize(
    ("topic", "names"),
    [
        ("other/v1/a/b/telemetry", "topic"),
        ("pilotshare/v1/a/b/weird", "topic channel"),
        ("pilotshare/v1/a/telemetry", "lacks"),
        ("pilotshare/v1/a+/b/telemetry", "topic platform"),
    ],
)
def test_bad_topics_are_named(topic: str, names: str) -> None:
    with pytest.raises(p.PayloadError, match=names):
        p.parse_topic(topic)


def test_codes_with_wildcards_cannot_build_topics() -> None:
    with pytest.raises(p.PayloadError, match="resource"):
        p.telemetry_topic("jinan-bio", "F5/1")


def test_telemetry_accepts_both_timestamp_forms() -> None:
    body = {
        "agent": "a",
        "seq": 3,
        "samples": [
            {"ts": "2026-12-01T08:00:00.5+08:00", "fields": {"t": 37.1, "state": "running", "ok": True}},
            {"ts": NS, "fields": {"n": 5}},
        ],
    }
    msg = p.parse_payload("telemetry", json.dumps(body).encode())
    assert isinstance(msg, p.Telemetry)
    assert [p.to_epoch_ns(s.ts) for s in msg.samples] == [NS + 500_000_000, NS]
    assert msg.points()[1] == (NS, {"n": 5})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"agent": "a", "seq": 0, "samples": [{"ts": "2026-12-01T08:00:00", "fields": {"t": 1}}]},
            "samples[0].ts",
        ),
        ({"agent": "a", "seq": 0, "samples": [{"ts": 1_700_000_000, "fields": {"t": 1}}]}, "samples[0].ts"),
        ({"agent": "a", "seq": 0, "samples": [{"ts": NS, "fields": {"t": [1]}}]}, "samples[0].fields.t"),
        ({"agent": "a", "seq": -1, "samples": [{"ts": NS, "fields": {"t": 1}}]}, "seq"),
        ({"agent": "a", "seq": 0, "samples": []}, "samples"),
        ({"seq": 0, "samples": [{"ts": NS, "fields": {"t": 1}}]}, "agent"),
        ({"agent": "a", "seq": 0, "samples": [{"ts": NS, "fields": {"time": 1}}]}, "samples[0].fields.time"),
    ],
)
def test_bad_telemetry_names_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(p.PayloadError) as err:
        p.parse_payload("telemetry", json.dumps(body))
    assert field in str(err.value)


def test_nan_and_non_json_are_refused() -> None:
    with pytest.raises(p.PayloadError, match="finite"):
        p.parse_payload(
            "telemetry", b'{"agent":"a","seq":0,"samples":[{"ts":1796083200000000000,"fields":{"x":NaN}}]}'
        )
    with pytest.raises(p.PayloadError, match="not JSON"):
        p.parse_payload("event", b"{nope")
    with pytest.raises(p.PayloadError, match="JSON object"):
        p.parse_payload("event", b"[1]")


def test_status_birth_and_last_will() -> None:
    birth = p.StatusOnline(agent="sim-1", since=p.rfc3339(NS), fields={"device_type": "fermenter"})
    assert isinstance(p.parse_payload("status", birth.to_json()), p.StatusOnline)
    assert isinstance(p.parse_payload("status", p.LAST_WILL), p.StatusOffline)
    assert json.loads(p.LAST_WILL) == {"state": "offline"}
    with pytest.raises(p.PayloadError, match="state"):
        p.parse_payload("status", b'{"state":"sleeping"}')


def test_event_cmd_and_ack() -> None:
    ev = p.parse_payload(
        "event", {"ts": NS, "kind": "alarm", "code": "over_temperature", "severity": "critical"}
    )
    assert ev.kind == "alarm"
    with pytest.raises(p.PayloadError, match="kind"):
        p.parse_payload("event", {"ts": NS, "kind": "boom", "code": "x", "severity": "info"})
    cmd = p.parse_payload("cmd", {"id": "c1", "action": "setpoint", "args": {"temperature_sp_c": 30}})
    assert cmd.args == {"temperature_sp_c": 30}
    with pytest.raises(p.PayloadError, match="action"):
        p.parse_payload("cmd", {"id": "c1", "action": "explode"})
    ack = p.CommandAck(id="c1", ok=False, error="locked")
    assert json.loads(ack.to_json()) == {"id": "c1", "ok": False, "error": "locked"}


def test_unknown_keys_are_kept_so_the_contract_can_grow() -> None:
    ev = p.parse_payload("event", {"ts": NS, "kind": "state", "code": "idle", "severity": "info", "extra": 1})
    assert ev.model_dump()["extra"] == 1


def test_rfc3339_round_trip_keeps_milliseconds() -> None:
    assert p.to_epoch_ns(p.rfc3339(NS + 123_000_000)) == NS + 123_000_000


field_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=20).filter(
    lambda s: s != "time"
)
field_values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
timestamps = st.one_of(
    st.integers(min_value=p.MIN_EPOCH_NS, max_value=4_000_000_000 * 10**9),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.isoformat()
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    samples=st.lists(
        st.fixed_dictionaries(
            {"ts": timestamps, "fields": st.dictionaries(field_names, field_values, min_size=1)}
        ),
        min_size=1,
        max_size=5,
    ),
    seq=st.integers(min_value=0, max_value=2**40),
)
def test_any_valid_telemetry_round_trips(samples: list[dict[str, object]], seq: int) -> None:
    msg = p.Telemetry.model_validate({"agent": "a", "seq": seq, "samples": samples})
    again = p.parse_payload("telemetry", msg.to_json())
    assert again == msg
    assert [ts for ts, _ in again.points()] == [p.to_epoch_ns(s["ts"]) for s in samples]  # type: ignore[arg-type]
