"""Deciding on alarms: a person acknowledges one (someone is on it) or clears it (the condition is
over), with who, when and a note; each step is in the audit chain. A threshold rule's alarm is raised
and cleared by the system (`raise_for_rule`, `clear_by_system`: `cleared_by_id` null, a note). The
states and their order: `backend.domain.alarms`. Alarms are listed by `twins.list_alarms` (with `state=`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from backend.domain.access import Principal, ensure_manages_platform
from backend.domain.alarm_rules import Rule
from backend.domain.alarms import AlarmAction, AlarmState, links_booking, next_state
from backend.domain.bookings import BookingStatus
from backend.models.booking import Booking, status_in
from backend.models.resource import Resource
from backend.models.twin import Alarm, AlarmPublic
from backend.models.types import utcnow
from backend.services import audit
from backend.services.common import get_or_404
from backend.services.notifications.outbox import notify_alarm

#: Bookings whose run a critical alarm is tied to.
_RUNNING = (BookingStatus.approved, BookingStatus.checked_in, BookingStatus.completed)


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
        alarm.open_key = None  # a rule may raise a new one once its signal has come back
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


def open_key(rule_id: int) -> str:
    return f"rule:{rule_id}"


def raise_for_rule(session: Session, resource: Resource, rule: Rule, at: datetime, value: float) -> Alarm:
    """A rule's alarm, active; tied to the running booking when critical, in the audit chain, and told
    to the platform's operators and webhooks (`alarm.critical` or `alarm.raised`)."""
    alarm = Alarm(
        resource_id=resource.id or 0,
        ts=at,
        kind="alarm",
        code=rule.code,
        severity=rule.severity.value,
        message=f"{rule.describe(value)} for {rule.duration_seconds:g} s"[:2000],
        agent=None,
        source="rule",
        rule_id=rule.id,
        open_key=open_key(rule.id),
    )
    if links_booking(alarm.severity):
        alarm.booking_id = running_booking(session, alarm.resource_id, at)
    session.add(alarm)
    session.flush()
    audit.append(
        session,
        "alarm.raise",
        ("alarm", alarm.id or 0),
        actor=None,
        platform_id=resource.platform_id,
        payload={
            "rule_id": rule.id,
            "code": rule.code,
            "severity": alarm.severity,
            "ts": at,
            "value": Decimal(repr(value)),
            "booking_id": alarm.booking_id,
        },
    )
    notify_alarm(session, alarm, "alarm.critical" if alarm.severity == "critical" else "alarm.raised")
    return alarm


def clear_by_system(session: Session, alarm: Alarm, platform_id: int, at: datetime, note: str) -> None:
    """The condition is over (or its rule is gone): cleared with no person, and a note saying why."""
    if alarm.state == AlarmState.cleared:
        alarm.open_key = None
        session.add(alarm)
        return
    before = alarm.state
    alarm.state = AlarmState.cleared
    alarm.cleared_at, alarm.cleared_by_id, alarm.open_key = at, None, None
    alarm.note = note[:2000]
    session.add(alarm)
    session.flush()
    audit.append(
        session,
        "alarm.clear",
        ("alarm", alarm.id or 0),
        actor=None,
        platform_id=platform_id,
        payload={"from": before, "to": alarm.state, "note": alarm.note, "code": alarm.code, "ts": at},
    )


def open_alarms_of_rule(session: Session, rule_id: int) -> list[Alarm]:
    return list(session.exec(select(Alarm).where(Alarm.rule_id == rule_id, col(Alarm.open_key).is_not(None))))


def running_booking(session: Session, resource_id: int, at: datetime) -> int | None:
    """The booking whose slot holds `at` on the resource."""
    return session.exec(
        select(Booking.id).where(
            Booking.resource_id == resource_id,
            status_in(_RUNNING),
            col(Booking.starts_at) <= at,
            col(Booking.ends_at) > at,
        )
    ).first()
