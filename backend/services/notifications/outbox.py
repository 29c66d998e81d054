"""Notifications through an outbox: rows written in the transaction of the change they report.

A separate delivery step (`delivery.py` beside this module) sends them by e-mail and webhook,
retrying with back-off, so a broken mail server never loses or blocks a booking.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, select

from backend.domain.access import Role
from backend.domain.notifications import SUBJECTS
from backend.models.booking import Booking
from backend.models.outbox import OutboxMessage, OutboxStatus
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.twin import Alarm
from backend.models.types import utcnow
from backend.models.user import User
from backend.models.webhook import Webhook


def booking_payload(session: Session, booking: Booking, event: str) -> dict[str, Any]:
    resource = session.get(Resource, booking.resource_id) if booking.resource_id else None
    return {
        "event": event,
        "booking_id": booking.id,
        "status": booking.status,
        "platform_id": booking.platform_id,
        "resource": resource.code if resource else None,
        "organization_id": booking.organization_id,
        "start": booking.starts_at.isoformat() if booking.starts_at else None,
        "end": booking.ends_at.isoformat() if booking.ends_at else None,
        "key_project": booking.key_project,
        "reason": booking.decision_reason,
    }


def notify_booking(session: Session, booking: Booking, event: str) -> None:
    """Queue an e-mail to the requester and a call to each subscribed webhook of the platform."""
    with session.no_autoflush:  # the booking's own pending rows are flushed once, by the caller
        _queue(session, booking, event)


def _queue(session: Session, booking: Booking, event: str) -> None:
    payload = booking_payload(session, booking, event)
    subject = f"[PilotShare] {SUBJECTS.get(event, event)} #{booking.id}"
    platform = session.get(Platform, booking.platform_id)
    zone = ZoneInfo(platform.timezone if platform else "Asia/Shanghai")
    when = "to be scheduled"
    if booking.starts_at and booking.ends_at:
        start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
        when = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} ({zone})"
    body = "\n".join(
        line
        for line in (
            f"Booking #{booking.id} on {payload['resource'] or 'a resource to be chosen'}: {booking.status}",
            f"Time: {when}",
            f"Purpose: {booking.purpose}",
            f"Reason: {booking.decision_reason}" if booking.decision_reason else "",
        )
        if line
    )
    emails = _requester_email(session, booking.user_id)
    _send(session, booking.platform_id, event, booking.id, emails, subject, body, payload)


def _send(
    session: Session,
    platform_id: int,
    event: str,
    booking_id: int | None,
    emails: list[str],
    subject: str,
    body: str,
    payload: dict[str, Any],
) -> None:
    """One e-mail per address, and one call per active webhook of the platform that takes `event`."""
    now = utcnow()
    message = {
        "created_at": now,
        "event": event,
        "booking_id": booking_id,
        "subject": subject,
        "status": OutboxStatus.pending.value,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "sent_at": None,
    }
    rows = [
        {**message, "channel": "email", "recipient": email, "body": body, "payload": payload}
        for email in emails
    ]
    for hook_id, url, events in session.exec(_active_webhooks(), params={"platform_id": platform_id}):
        if events is None or event in events:
            rows.append(
                {
                    **message,
                    "channel": "webhook",
                    "recipient": url,
                    "body": "",
                    "payload": {**payload, "webhook_id": hook_id},
                }
            )
    # Rows, not ORM objects: every booking writes one, and nothing reads it back in this unit of work.
    # One row (the usual case) goes as a plain execute: executemany's batching costs more than it saves.
    if len(rows) == 1:
        session.exec(_insert_message(), params=rows[0])
    elif rows:
        session.exec(_insert_message(), params=rows)


# Every booking's notification reads these two: columns, not objects, with statements built once.


def _requester_email(session: Session, user_id: int | None) -> list[str]:
    """The requester's address while the account is active (as this unit of work sees the user)."""
    if user_id is None:
        return []
    user = session.identity_map.get(Session.identity_key(User, user_id))
    if user is not None:
        return [user.email] if user.is_active else []
    row = session.exec(_user_email(), params={"user_id": user_id}).first()
    return [row.email] if row is not None and row.is_active else []


@cache
def _user_email() -> Any:
    return select(col(User.email), col(User.is_active)).where(col(User.id) == bindparam("user_id"))


@cache
def _insert_message() -> Any:
    return insert(OutboxMessage.__table__)  # type: ignore[attr-defined]  # the table: a plain Core insert


@cache
def _active_webhooks() -> Any:
    return select(col(Webhook.id), col(Webhook.url), col(Webhook.events)).where(
        col(Webhook.platform_id) == bindparam("platform_id"), col(Webhook.active).is_(True)
    )


def notify_alarm(session: Session, alarm: Alarm, event: str) -> None:
    """Queue an e-mail to each operator of the alarm's platform (and to the requester of the booking it
    hit) and a call to each subscribed webhook of the platform."""
    resource = session.get(Resource, alarm.resource_id)
    assert resource is not None  # foreign key
    platform = session.get(Platform, resource.platform_id)
    zone = ZoneInfo(platform.timezone if platform else "Asia/Shanghai")
    payload: dict[str, Any] = {
        "event": event,
        "alarm_id": alarm.id,
        "platform_id": resource.platform_id,
        "resource": resource.code,
        "ts": alarm.ts.isoformat(),
        "kind": alarm.kind,
        "code": alarm.code,
        "severity": alarm.severity,
        "message": alarm.message,
        "state": alarm.state,
        "booking_id": alarm.booking_id,
    }
    subject = f"[PilotShare] {SUBJECTS.get(event, event)}: {resource.code} {alarm.code}"
    when = f"{alarm.ts.astimezone(zone):%Y-%m-%d %H:%M:%S}"
    body = "\n".join(
        line
        for line in (
            f"{resource.code}: {alarm.severity} {alarm.kind} {alarm.code} at {when}",
            alarm.message,
            f"During booking #{alarm.booking_id}" if alarm.booking_id else "",
        )
        if line
    )
    recipients = set(
        session.exec(
            select(User.email).where(
                User.platform_id == resource.platform_id,
                User.role == Role.operator,
                col(User.is_active).is_(True),
            )
        ).all()
    )
    booking = session.get(Booking, alarm.booking_id) if alarm.booking_id else None
    if booking is not None:
        requester = session.get(User, booking.user_id)
        if requester is not None and requester.is_active:
            recipients.add(requester.email)
    with session.no_autoflush:
        _send(
            session, resource.platform_id, event, alarm.booking_id, sorted(recipients), subject, body, payload
        )
