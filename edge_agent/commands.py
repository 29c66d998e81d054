"""``cmd`` messages from the platform (interlock and setpoints) → the instrument → ``cmd/ack``.

Only the backend's account may publish to ``cmd`` (the broker's ACL, docs/security.md); on top of that a
command must name the booking or user it is sent for and must not have expired, so a command held back
and delivered late (a broker that queued it, a clock far behind) is refused, not obeyed.

Every command gets exactly one ack. A payload that is not a valid command still gets one, with
``ok: false`` and the validation message (using its ``id`` when one can be read), so the sender learns
what was wrong; nothing here raises into the agent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from edge_agent.protocol import (
    Channel,
    Command,
    CommandAck,
    CommandRefused,
    Driver,
    DriverError,
    PayloadError,
    parse_payload,
)

log = logging.getLogger(__name__)

UNKNOWN_ID = "unknown"


def _id_of(payload: bytes) -> str:
    try:
        data: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return UNKNOWN_ID
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool) and 0 < len(str(value)) <= 128:
        return str(value)
    return UNKNOWN_ID


def parse_command(payload: bytes) -> Command | CommandAck:
    """The command, or the ack refusing it when the payload breaks the contract."""
    try:
        cmd = parse_payload(Channel.CMD, payload)
    except PayloadError as exc:
        return CommandAck(id=_id_of(payload), ok=False, error=str(exc))
    assert isinstance(cmd, Command)
    refusal = cmd.refusal(time.time_ns())
    if refusal is not None:
        return CommandAck(id=cmd.id, ok=False, error=refusal)
    if cmd.action == "setpoint" and not cmd.args:
        return CommandAck(id=cmd.id, ok=False, error="setpoint needs args {name: value}")
    if cmd.action in ("lock", "unlock") and cmd.args:
        return CommandAck(id=cmd.id, ok=False, error=f"{cmd.action} takes no args")
    return cmd


async def execute(driver: Driver, payload: bytes, timeout_s: float = 15.0) -> CommandAck:
    """Parse, apply through the driver and say how it went."""
    parsed = parse_command(payload)
    if isinstance(parsed, CommandAck):
        log.warning("bad command refused: %s", parsed.error)
        return parsed
    try:
        async with asyncio.timeout(timeout_s):
            await driver.command(parsed.action, dict(parsed.args))
    except CommandRefused as exc:
        log.info("command %s %s refused: %s", parsed.id, parsed.action, exc)
        return CommandAck(id=parsed.id, ok=False, error=str(exc))
    except TimeoutError:
        log.warning("command %s %s: no answer within %s s", parsed.id, parsed.action, timeout_s)
        return CommandAck(id=parsed.id, ok=False, error=f"instrument did not answer within {timeout_s:g} s")
    except DriverError as exc:
        log.warning("command %s %s failed: %s", parsed.id, parsed.action, exc)
        return CommandAck(id=parsed.id, ok=False, error=f"instrument unreachable: {exc}")
    except Exception as exc:  # a driver bug must cost one command, not the agent
        log.exception("command %s %s crashed the driver", parsed.id, parsed.action)
        return CommandAck(id=parsed.id, ok=False, error=f"internal error: {type(exc).__name__}: {exc}")
    log.info("command %s %s %s done", parsed.id, parsed.action, dict(parsed.args) or "")
    return CommandAck(id=parsed.id, ok=True, error=None)
