"""Commands to instruments (lock, unlock, setpoint): their states, when to send them again, and the checks
a setpoint passes before it is sent.

A command is written to the outbox (`device_command`) in the transaction of the change that wants it,
then sent on the resource's `cmd` topic until the device acknowledges it or its deadline passes:

    pending ──send──▶ sent ──ack ok──▶ applied
                       │  ╰─ack refused─▶ refused (with the device's reason)
                       ╰──deadline───▶ expired

`sent` is sent again when no ack came within the retry delay (doubled each attempt) and at once when the
device comes back online. An ack is the device's word on what it did, so it is recorded even after the
command was marked expired (a late ack of a command the agent still took in time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backend.domain.devices import declared_names


class CommandState(StrEnum):
    pending = "pending"
    sent = "sent"
    applied = "applied"
    refused = "refused"
    expired = "expired"


class CommandAction(StrEnum):
    lock = "lock"
    unlock = "unlock"
    setpoint = "setpoint"


#: States from which a command is still (re)sent.
OPEN = frozenset({CommandState.pending, CommandState.sent})
#: States an ack may move a command out of (an expired command the device still took is applied).
ACKABLE = frozenset({CommandState.pending, CommandState.sent, CommandState.expired})

#: the longest wait between two sends of an unacknowledged command
MAX_RETRY = timedelta(minutes=5)
#: a lock is worth delivering for a long time: an instrument must not stay open after its booking
LOCK_LIFETIME = timedelta(hours=24)

#: desired fields that drive the interlock instead of a setpoint (true: lock, false: unlock)
LOCK_FIELDS = frozenset({"interlock", "locked"})


def after_ack(state: str, ok: bool) -> CommandState | None:
    """The state an ack moves a command to, or None when it is already decided (a repeated ack)."""
    if state not in ACKABLE:
        return None
    return CommandState.applied if ok else CommandState.refused


def retry_delay(attempts: int, first: timedelta) -> timedelta:
    """How long to wait for an ack after the `attempts`-th send (1, 2, …) before sending again."""
    delay: timedelta = first * (2 ** max(0, attempts - 1))
    return min(delay, MAX_RETRY)


def is_due(
    state: str,
    now: datetime,
    next_attempt_at: datetime,
    expires_at: datetime,
    last_sent_at: datetime | None,
    online_since: datetime | None,
) -> bool:
    """Whether to send now: still open and in time, and either its retry time has come or the device came
    online after the last send (it may have missed it). `online_since` is None while the device is known
    to be offline: nothing is sent into the void, it waits for the device."""
    if state not in OPEN or expires_at <= now:
        return False
    if online_since is None:
        return False
    if last_sent_at is None:
        return True
    return next_attempt_at <= now or online_since > last_sent_at


# --------------------------------------------------------------------------- setpoint checks

_RANGE = re.compile(r"^\s*(-?[0-9.eE+-]+)?\s*\.\.\s*(-?[0-9.eE+-]+)?\s*$")


@dataclass(frozen=True)
class Limits:
    low: float | None = None
    high: float | None = None

    def breach(self, value: float) -> str | None:
        if self.low is not None and value < self.low:
            return f"below the minimum {self.low:g}"
        if self.high is not None and value > self.high:
            return f"above the maximum {self.high:g}"
        return None


def parse_limits(text: object) -> dict[str, Limits]:
    """``{name: Limits}`` from a birth declaration like ``"temperature_sp_c[4..60],ph_sp[3..9]"``."""
    out: dict[str, Limits] = {}
    for name, bounds in declared_names(text).items():
        match = _RANGE.match(bounds)
        if match is None:
            continue
        try:
            low = float(match.group(1)) if match.group(1) else None
            high = float(match.group(2)) if match.group(2) else None
        except ValueError:
            continue
        out[name] = Limits(low, high)
    return out


def attribute_limits(attributes: Mapping[str, object], name: str) -> Limits:
    """Limits an operator set on the resource: attributes ``{name}_min`` and ``{name}_max``."""

    def number(key: str) -> float | None:
        value = attributes.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return Limits(number(f"{name}_min"), number(f"{name}_max"))


def setpoint_problem(name: str, value: object, declared: dict[str, str], limits: list[Limits]) -> str | None:
    """Why `value` cannot be sent as setpoint `name`, or None. `declared` empty: the device has not said
    which setpoints it has yet, so only the limits are checked."""
    if declared and name not in declared:
        return f"the device has no setpoint {name!r}; it declares {', '.join(sorted(declared))}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "a setpoint is a number" if declared else None
    if not math.isfinite(value):
        return "numbers must be finite"
    for lim in limits:
        breach = lim.breach(float(value))
        if breach is not None:
            return f"{value:g} is {breach}"
    return None


# --------------------------------------------------------------------------- interlock policy


class UnlockAt(StrEnum):
    check_in = "check_in"
    start = "start"


@dataclass(frozen=True)
class InterlockPolicy:
    """Resource attributes ``interlock: true`` and ``unlock_at: check_in | start`` (default check_in)."""

    enabled: bool = False
    unlock_at: UnlockAt = UnlockAt.check_in

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, object]) -> InterlockPolicy:
        enabled = attributes.get("interlock") is True
        raw = attributes.get("unlock_at")
        unlock_at = UnlockAt(raw) if raw in {u.value for u in UnlockAt} else UnlockAt.check_in
        return cls(enabled, unlock_at)


def lock_action(value: object) -> CommandAction | None:
    """The command a desired interlock field asks for: true locks, false unlocks (None: not a boolean)."""
    if value is True:
        return CommandAction.lock
    if value is False:
        return CommandAction.unlock
    return None
