"""The alarm lifecycle: active → acknowledged → cleared, and nothing after cleared."""

import pytest

from backend.domain.alarms import AlarmAction, AlarmState, links_booking, next_state
from backend.domain.errors import Conflict


def test_the_states_follow_each_other() -> None:
    assert next_state(AlarmAction.ack, "active") is AlarmState.acknowledged
    assert next_state(AlarmAction.clear, "acknowledged") is AlarmState.cleared
    assert next_state(AlarmAction.clear, "active") is AlarmState.cleared  # a false alarm
    for action, state in (
        (AlarmAction.ack, "acknowledged"),
        (AlarmAction.ack, "cleared"),
        (AlarmAction.clear, "cleared"),
    ):
        with pytest.raises(Conflict, match=r"^state: "):
            next_state(action, state)


def test_only_critical_alarms_are_tied_to_the_booking_they_hit() -> None:
    assert links_booking("critical") and not links_booking("warning") and not links_booking("info")
