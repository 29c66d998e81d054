"""The command outbox's rules: the state an ack leads to, when to send again, setpoint checks, interlock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.commands import (
    MAX_RETRY,
    CommandState,
    InterlockPolicy,
    Limits,
    UnlockAt,
    after_ack,
    attribute_limits,
    is_due,
    lock_action,
    parse_limits,
    retry_delay,
    setpoint_problem,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


@pytest.mark.parametrize("state", ["pending", "sent", "expired"])
def test_an_ack_settles_an_open_or_expired_command(state: str) -> None:
    assert after_ack(state, ok=True) is CommandState.applied
    assert after_ack(state, ok=False) is CommandState.refused


@pytest.mark.parametrize("state", ["applied", "refused"])
def test_a_repeated_ack_changes_nothing(state: str) -> None:
    assert after_ack(state, ok=True) is None
    assert after_ack(state, ok=False) is None


def test_the_retry_delay_doubles_up_to_its_cap() -> None:
    first = timedelta(seconds=10)
    assert [retry_delay(n, first).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert retry_delay(30, first) == MAX_RETRY


def test_a_new_command_is_due_at_once_unless_its_device_is_offline() -> None:
    online = NOW - timedelta(hours=1)
    assert is_due("pending", NOW, NOW, LATER, None, online)
    assert not is_due("pending", NOW, NOW, LATER, None, None)


def test_a_sent_command_waits_for_its_retry_time_or_for_the_device_to_come_back() -> None:
    sent_at = NOW - timedelta(seconds=5)
    retry_at = NOW + timedelta(seconds=5)
    long_online = NOW - timedelta(hours=1)
    assert not is_due("sent", NOW, retry_at, LATER, sent_at, long_online)
    assert is_due("sent", NOW, NOW - timedelta(seconds=1), LATER, sent_at, long_online)
    back = NOW - timedelta(seconds=1)  # reconnected after the last send: it may have missed it
    assert is_due("sent", NOW, retry_at, LATER, sent_at, back)


@pytest.mark.parametrize("state", ["applied", "refused", "expired"])
def test_a_settled_command_is_never_sent(state: str) -> None:
    assert not is_due(state, NOW, NOW, LATER, None, NOW - timedelta(hours=1))


def test_a_command_past_its_deadline_is_not_sent() -> None:
    assert not is_due("pending", NOW, NOW, NOW, None, NOW - timedelta(hours=1))


def test_declared_limits_are_read_from_the_birth_message() -> None:
    limits = parse_limits("temperature_sp_c[4..60],agitation_sp_rpm[0..1200],x[..5],y[-3..],z[°C]")
    assert limits["temperature_sp_c"] == Limits(4, 60)
    assert limits["x"] == Limits(None, 5) and limits["y"] == Limits(-3, None)
    assert "z" not in limits
    assert parse_limits(None) == {}


def test_a_setpoint_is_checked_against_the_declared_names_and_every_limit() -> None:
    declared = {"temperature_sp_c": "°C"}
    device = Limits(4, 60)
    assert setpoint_problem("temperature_sp_c", 37, declared, [device]) is None
    assert setpoint_problem("temperature_sp_c", 300, declared, [device]) == "300 is above the maximum 60"
    assert setpoint_problem("temperature_sp_c", 2.5, declared, [device]) == "2.5 is below the minimum 4"
    assert "declares temperature_sp_c" in (setpoint_problem("temp_c", 37, declared, [device]) or "")
    assert setpoint_problem("temperature_sp_c", "hot", declared, [device]) == "a setpoint is a number"
    operator = attribute_limits({"temperature_sp_c_max": 45, "volume_l": 50}, "temperature_sp_c")
    assert (
        setpoint_problem("temperature_sp_c", 50, declared, [device, operator]) == "50 is above the maximum 45"
    )
    # a device that has declared nothing yet: only the limits hold
    assert setpoint_problem("rpm", 200, {}, [Limits()]) is None


def test_the_interlock_policy_comes_from_the_resource_attributes() -> None:
    assert InterlockPolicy.from_attributes({}) == InterlockPolicy(False, UnlockAt.check_in)
    policy = InterlockPolicy.from_attributes({"interlock": True, "unlock_at": "start"})
    assert policy == InterlockPolicy(True, UnlockAt.start)
    assert InterlockPolicy.from_attributes({"interlock": 1, "unlock_at": "never"}) == InterlockPolicy()
    assert lock_action(True) is not None and lock_action(False) is not None and lock_action("on") is None
