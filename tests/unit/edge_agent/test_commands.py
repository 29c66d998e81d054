"""Commands: every payload gets exactly one ack; bad ones say what is wrong, nothing raises."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from edge_agent.commands import UNKNOWN_ID, execute, parse_command
from edge_agent.protocol import Command, CommandAck, CommandRefused, DriverError, DriverValue, rfc3339


class FakeDriver:
    name = "fake"

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def connect(self) -> None:
        pass

    async def read(self) -> dict[str, DriverValue]:
        return {}

    async def command(self, action: str, args: dict[str, Any]) -> None:
        self.calls.append((action, args))
        if self.fail is not None:
            raise self.fail

    async def close(self) -> None:
        pass

    def describe(self) -> dict[str, DriverValue]:
        return {}


def valid_for(seconds: float) -> str:
    return rfc3339(time.time_ns() + int(seconds * 1e9))


def cmd(**kw: Any) -> bytes:
    """A command with the authority the agent requires, unless the test overrides it. Parameters are
    built when pytest collects, minutes before the test runs in a whole suite: valid for a day."""
    return json.dumps({"on_behalf_of": {"booking": 7}, "expires": valid_for(24 * 3600), **kw}).encode()


@pytest.mark.parametrize(
    ("payload", "ack_id", "error"),
    [
        (b"not json", UNKNOWN_ID, "not JSON"),
        (b"[1, 2]", UNKNOWN_ID, "expected a JSON object"),
        (cmd(action="lock"), UNKNOWN_ID, "id: Field required"),
        (cmd(id="c1", action="explode"), "c1", "action: Input should be 'lock', 'unlock' or 'setpoint'"),
        (cmd(id="c2", action="setpoint"), "c2", "setpoint needs args"),
        (cmd(id="c3", action="lock", args={"x": 1}), "c3", "lock takes no args"),
        (cmd(id=42, action="lock"), "42", "id: Input should be a valid string"),
        (cmd(id="c4", action="lock", on_behalf_of=None), "c4", "on_behalf_of: name the booking or the user"),
        (cmd(id="c5", action="lock", on_behalf_of={}), "c5", "on_behalf_of: name the booking or the user"),
        (cmd(id="c6", action="lock", expires=None), "c6", "expires: a command must say until when"),
        (cmd(id="c7", action="lock", expires=valid_for(-1)), "c7", "expired at"),
        (cmd(id="c8", action="lock", expires="tomorrow"), "c8", "expires: Value error"),
    ],
)
def test_bad_commands_get_an_ack_naming_the_problem(payload: bytes, ack_id: str, error: str) -> None:
    ack = parse_command(payload)
    assert isinstance(ack, CommandAck)
    assert ack.id == ack_id and ack.ok is False and ack.error is not None and error in ack.error


def test_good_commands_parse() -> None:
    parsed = parse_command(cmd(id="c", action="setpoint", args={"temperature_sp_c": 37}))
    assert isinstance(parsed, Command) and parsed.args == {"temperature_sp_c": 37}


async def test_execute_applies_through_the_driver() -> None:
    driver = FakeDriver()
    ack = await execute(driver, cmd(id="c", action="lock"))
    assert (ack.id, ack.ok, ack.error) == ("c", True, None)
    assert driver.calls == [("lock", {})]


@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (CommandRefused("c is locked"), "c is locked"),
        (DriverError("timeout"), "instrument unreachable: timeout"),
        (RuntimeError("bug"), "internal error: RuntimeError: bug"),
    ],
)
async def test_execute_turns_every_failure_into_an_ack(fail: Exception, error: str) -> None:
    ack = await execute(FakeDriver(fail), cmd(id="c", action="setpoint", args={"x": 1}))
    assert ack.ok is False and ack.error == error


async def test_bad_payload_never_reaches_the_driver() -> None:
    driver = FakeDriver()
    ack = await execute(driver, b"{")
    assert ack.ok is False and driver.calls == []


async def test_an_instrument_that_never_answers_gets_a_timeout_ack() -> None:
    import asyncio

    class Hanging(FakeDriver):
        async def command(self, action: str, args: dict[str, Any]) -> None:
            await asyncio.sleep(60)

    ack = await execute(Hanging(), cmd(id="h", action="lock"), timeout_s=0.05)
    assert ack.ok is False and ack.error == "instrument did not answer within 0.05 s"


def test_a_command_on_behalf_of_a_user_within_its_validity_is_executed() -> None:
    parsed = parse_command(cmd(id="u", action="unlock", on_behalf_of={"user": "operator@jinan-bio.demo"}))
    assert isinstance(parsed, Command) and parsed.on_behalf_of is not None
    assert parsed.on_behalf_of.user == "operator@jinan-bio.demo"
