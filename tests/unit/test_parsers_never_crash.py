"""Hypothesis on the parsers that read what the outside world writes: the MQTT payload parser (and
ingest's fast telemetry decoder beside it), the problem-file parser and the edge agent's config loader.
Whatever they are given, they answer with a value or with their own error naming what is wrong, never
with another exception; and the fast telemetry decoder agrees with the contract's validator."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.ingest.decode import decode_telemetry
from edge_agent.protocol import Channel, PayloadError, Telemetry, parse_payload
from edge_agent.settings import ConfigError, load_settings, parse_settings
from scheduler.io import load_problem
from scheduler.problem import ProblemError, parse_problem

EXAMPLES = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)

field_names = st.sampled_from(["temp_c", "rpm", "state", "time", "", "a" * 70, "ph", "x y"]) | st.text(
    max_size=8
)
timestamps = (
    st.integers(min_value=-(2**65), max_value=2**65)
    | st.sampled_from(
        ["2026-12-01T08:00:00+08:00", "2026-12-01T08:00:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
    )
    | st.text(max_size=30)
)
samples = st.fixed_dictionaries(
    {"ts": timestamps, "fields": st.dictionaries(field_names, scalars, max_size=4)},
    optional={"extra": json_values},
)
telemetry = st.fixed_dictionaries(
    {
        "agent": st.text(max_size=20) | st.none(),
        "seq": st.integers(min_value=-5, max_value=2**64),
        "samples": st.lists(samples, max_size=4),
    }
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@EXAMPLES
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_samples_or_a_payload_error(payload: bytes) -> None:
    with contextlib.suppress(PayloadError):
        decode_telemetry(payload)


@EXAMPLES
@given(telemetry)
def test_the_fast_telemetry_decoder_agrees_with_the_contract(message: dict[str, Any]) -> None:
    payload = _dumps(message)
    try:
        fast = decode_telemetry(payload)
    except PayloadError:
        fast = None
    try:
        model: Telemetry = parse_payload(Channel.TELEMETRY, payload)
        slow = model.points()
    except PayloadError:
        slow = None
    assert (fast is None) == (slow is None)
    if fast is not None:
        assert fast.points == slow


@EXAMPLES
@given(st.sampled_from(list(Channel)), json_values | st.binary(max_size=100))
def test_every_channel_parses_or_names_the_problem(channel: Channel, payload: Any) -> None:
    raw = payload if isinstance(payload, bytes) else _dumps(payload)
    try:
        parse_payload(channel, raw)
    except PayloadError as exc:
        assert str(exc).startswith(f"bad {channel.value} payload")


problems = st.fixed_dictionaries(
    {},
    optional={
        "horizon": st.fixed_dictionaries({"start": timestamps, "end": timestamps}) | json_values,
        "resources": st.lists(
            st.fixed_dictionaries(
                {"id": st.text(max_size=6)},
                optional={
                    "open": st.lists(st.lists(timestamps, max_size=3), max_size=2),
                    "capacity": st.integers(-2, 3) | json_values,
                    "setup_minutes": st.integers(-5, 10**12) | json_values,
                },
            ),
            max_size=3,
        ),
        "requests": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.text(max_size=6),
                    "steps": st.lists(
                        st.fixed_dictionaries(
                            {
                                "id": st.text(max_size=4),
                                "duration_minutes": st.integers(-5, 10**15) | json_values,
                            },
                            optional={"resources": st.lists(st.text(max_size=6), max_size=3)},
                        ),
                        max_size=3,
                    ),
                },
                optional={
                    "weight": json_values,
                    "release": timestamps,
                    "due": timestamps,
                    "org": json_values,
                },
            ),
            max_size=3,
        ),
        "fixed": json_values,
        "objective": st.sampled_from(["default", "makespan", "other"]) | json_values,
    },
)


@EXAMPLES
@given(problems | json_values)
def test_problem_files_parse_or_name_the_problem(data: Any) -> None:
    try:
        parse_problem(data)
    except ProblemError as exc:
        assert str(exc)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_any_problem_file_bytes_load_or_name_the_problem(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    path = tmp_path_factory.mktemp("problem") / "problem.json"
    path.write_bytes(raw)
    with contextlib.suppress(ProblemError):
        load_problem(path)


configs = st.fixed_dictionaries(
    {},
    optional={
        "platform": json_values,
        "resource": json_values,
        "agent_id": json_values,
        "mqtt": st.dictionaries(
            st.sampled_from(["url", "username", "password", "keepalive", "tls", "qos"]),
            json_values,
            max_size=4,
        )
        | json_values,
        "device": st.dictionaries(
            st.sampled_from(["driver", "period_seconds", "sim", "opcua", "modbus"]), json_values, max_size=3
        )
        | json_values,
        "buffer": json_values,
        "signals": json_values,
    },
)


@EXAMPLES
@given(configs | json_values)
def test_agent_configs_parse_or_name_the_problem(data: Any) -> None:
    try:
        parse_settings(data)
    except ConfigError as exc:
        assert str(exc).startswith("config")


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    st.sampled_from([".toml", ".yaml", ".json", ".ini"]),
    st.text(max_size=200).map(str.encode) | st.binary(max_size=200),
)
def test_agent_config_files_load_or_name_the_problem(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, raw: bytes
) -> None:
    path: Path = tmp_path_factory.mktemp("agent") / f"agent{suffix}"
    path.write_bytes(raw)
    try:
        load_settings(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
