"""The lifecycle of an alarm: active → acknowledged → cleared, each step with who and when.

An alarm is raised active (by an instrument's `event`, or later by a threshold rule); a person
acknowledges it (someone is on it); it is cleared when the condition is over — by a person, or by the
system that raised it. Clearing an active alarm directly is allowed (a false alarm); nothing moves on
from cleared.
"""

from __future__ import annotations

from enum import StrEnum

from backend.domain.errors import Conflict


class AlarmState(StrEnum):
    active = "active"
    acknowledged = "acknowledged"
    cleared = "cleared"


class AlarmAction(StrEnum):
    ack = "ack"
    clear = "clear"


_MOVES: dict[AlarmAction, tuple[frozenset[AlarmState], AlarmState]] = {
    AlarmAction.ack: (frozenset({AlarmState.active}), AlarmState.acknowledged),
    AlarmAction.clear: (frozenset({AlarmState.active, AlarmState.acknowledged}), AlarmState.cleared),
}


def next_state(action: AlarmAction, current: str) -> AlarmState:
    allowed, target = _MOVES[action]
    if current not in allowed:
        done = "acknowledged" if action is AlarmAction.ack else "cleared"
        raise Conflict(f"state: a {current} alarm cannot be {done}")
    return target


def links_booking(severity: str) -> bool:
    """Critical alarms during a booking are tied to it: the run's record shows what went wrong."""
    return severity == "critical"
