"""Deciding on alarms: a person acknowledges one (someone is on it) or clears it (the condition is
over), with who, when and a note; each step is in the audit chain. The states and their order:
`backend.domain.alarms`. Alarms are listed by `twins.list_alarms` (with `state=`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from backend.domain.access import Principal, ensure_manages_platform
from backend.domain.alarms import AlarmAction, AlarmState, next_state
from backend.models.resource import Resource
from backend.models.twin import Alarm, AlarmPublic
from backend.models.types import utcnow
from backend.services import audit
from backend.services.common import get_or_404


def decide(
    session: Session,
    who: Principal,
    alarm_id: int,
    action: AlarmAction,
    note: str | None = None,
    now: datetime | None = None,
) -> AlarmPublic:
    """Acknowledge or clear an alarm (an operator of its platform, or an administrator)."""
    now = now or utcnow()
    alarm = get_or_404(session, Alarm, alarm_id, "alarm")
    resource = get_or_404(session, Resource, alarm.resource_id, "resource")
    ensure_manages_platform(who, resource.platform_id)
    before = alarm.state
    alarm.state = next_state(action, alarm.state)
    if alarm.state == AlarmState.acknowledged:
        alarm.acknowledged_at, alarm.acknowledged_by_id = now, who.user_id
    else:
        alarm.cleared_at, alarm.cleared_by_id = now, who.user_id
    if note is not None:
        alarm.note = note
    session.add(alarm)
    session.flush()
    audit.append(
        session,
        f"alarm.{action.value}",
        ("alarm", alarm.id or 0),
        actor=who.user_id,
        platform_id=resource.platform_id,
        payload={"from": before, "to": alarm.state, "note": note, "code": alarm.code, "ts": alarm.ts},
    )
    return AlarmPublic.model_validate(alarm, from_attributes=True)
