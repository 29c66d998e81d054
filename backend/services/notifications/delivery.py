"""Delivery of the notification outbox: e-mail over SMTP, webhooks over HTTPS, with retries.

A message is claimed by one short conditional UPDATE (`status = 'pending'`, its `attempts` unchanged and
`next_attempt_at` due) that moves `next_attempt_at` a lease into the future and counts the attempt. Only
one delivery run can win that UPDATE, on SQLite (writes are serialized) as on PostgreSQL (the row lock
makes the loser re-check the condition and find it false), so two API replicas never send one message
twice. Sending happens outside any transaction; the outcome is written back only if the claim still
holds. A run that dies mid-send leaves the claim to expire and the message is tried again later, so
delivery is at least once and never lost; receivers deduplicate on the message id
(`Message-ID` of e-mails, `X-PilotShare-Delivery` of webhook calls).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from backend.db import unit_of_work, writer
from backend.logs import get_logger
from backend.models.outbox import OutboxMessage, OutboxStatus
from backend.models.types import utcnow
from backend.models.webhook import Webhook
from backend.services.notifications.webhooks import target_problem
from backend.settings import Settings

log = get_logger("pilotshare.delivery")

SMTP_NOT_CONFIGURED = "SMTP not configured (set PILOTSHARE_SMTP_HOST)"
MAX_BACKOFF = timedelta(hours=6)


class DeliveryError(Exception):
    """The message could not be delivered this time; worth retrying."""


class Undeliverable(Exception):
    """The message can never be delivered as it stands (no SMTP, webhook deleted)."""


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: int = 0  # claimed by another run first

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": len(self.sent),
            "retrying": len(self.retrying),
            "failed": len(self.failed),
            "skipped": self.skipped,
        }


def sign(secret: str, body: bytes) -> str:
    """The `X-PilotShare-Signature` header value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones: 1, 2, 4, ... times the base, capped."""
    delay = timedelta(seconds=settings.outbox_retry_seconds * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


def lease(settings: Settings) -> timedelta:
    """How long a claim keeps other runs away: well beyond one send's timeouts."""
    return timedelta(seconds=60 + 4 * max(settings.smtp_timeout, settings.webhook_timeout))


# --- claiming and recording ----------------------------------------------------------------------


def _due(engine: Engine, now: datetime, limit: int) -> list[tuple[int, int]]:
    with unit_of_work(engine) as session:
        rows = session.exec(
            select(OutboxMessage.id, OutboxMessage.attempts)
            .where(OutboxMessage.status == OutboxStatus.pending, col(OutboxMessage.next_attempt_at) <= now)
            .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            .limit(limit)
        ).all()
    return [(int(i or 0), a) for i, a in rows]


def _claim(engine: Engine, settings: Settings, message_id: int, attempts: int, now: datetime) -> bool:
    with unit_of_work(writer(engine)) as session:
        result = session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.status) == OutboxStatus.pending,
                col(OutboxMessage.attempts) == attempts,
                col(OutboxMessage.next_attempt_at) <= now,
            )
            .values(attempts=attempts + 1, next_attempt_at=now + lease(settings))
        )
        return bool(result.rowcount == 1)


def _finish(engine: Engine, message_id: int, claimed_attempts: int, **values: Any) -> bool:
    """Write the outcome if our claim still holds (a lease that ran out may have passed it on)."""
    with unit_of_work(writer(engine)) as session:
        result = session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.status) == OutboxStatus.pending,
                col(OutboxMessage.attempts) == claimed_attempts,
            )
            .values(**values)
        )
        return bool(result.rowcount == 1)


def _load(engine: Engine, message_id: int) -> tuple[OutboxMessage, Webhook | None]:
    with unit_of_work(engine) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        hook = None
        if message.channel == "webhook":
            hook_id = message.payload.get("webhook_id")
            hook = session.get(Webhook, hook_id) if isinstance(hook_id, int) else None
        return message, hook


# --- sending -------------------------------------------------------------------------------------


class Senders:
    """The SMTP connection and HTTP client of one delivery run, opened when first needed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._http: httpx.Client | None = None

    def email(self, message: OutboxMessage) -> None:
        settings = self.settings
        if not settings.smtp_host:
            raise Undeliverable(SMTP_NOT_CONFIGURED)
        mail = EmailMessage()
        mail["From"] = settings.smtp_from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = f"<outbox-{message.id}@pilotshare>"
        mail["X-PilotShare-Event"] = message.event
        mail.set_content(message.body)
        try:
            self._smtp_connection().send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop_smtp()  # the next message gets a fresh connection
            raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc!r}") from exc

    def _smtp_connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            settings = self.settings
            assert settings.smtp_host is not None
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
            try:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user:
                    smtp.login(settings.smtp_user, settings.smtp_password or "")
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def _drop_smtp(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def webhook(self, message: OutboxMessage, hook: Webhook | None) -> None:
        if hook is None or not hook.active:
            raise Undeliverable("webhook deleted")
        refused = target_problem(message.recipient, self.settings.webhook_allow_private)
        if refused:
            raise Undeliverable(refused)
        body = json.dumps(message.payload, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PilotShare-Webhook/1",
            "X-PilotShare-Event": message.event,
            "X-PilotShare-Delivery": str(message.id),
            "X-PilotShare-Signature": sign(hook.secret, body),
        }
        if self._http is None:
            self._http = httpx.Client(timeout=self.settings.webhook_timeout, follow_redirects=False)
        try:
            response = self._http.post(message.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"POST {message.recipient}: {exc!r}") from exc
        if not response.is_success:
            status = f"HTTP {response.status_code} {response.text[:200]}"
            raise DeliveryError(f"POST {message.recipient}: {status}")

    def close(self) -> None:
        self._drop_smtp()
        if self._http is not None:
            self._http.close()
            self._http = None


def _send(senders: Senders, engine: Engine, message_id: int) -> None:
    message, hook = _load(engine, message_id)
    if message.channel == "email":
        senders.email(message)
    elif message.channel == "webhook":
        senders.webhook(message, hook)
    else:
        raise Undeliverable(f"unknown channel {message.channel!r}")


def _deliver_one(
    senders: Senders, engine: Engine, settings: Settings, message_id: int, tried: int, report: DeliveryReport
) -> None:
    """Send one claimed message and record the outcome: sent, retry later, or failed for good."""
    try:
        _send(senders, engine, message_id)
    except Undeliverable as exc:
        _finish(engine, message_id, tried, status=OutboxStatus.failed, last_error=str(exc)[:2000])
        report.failed.append(message_id)
        log.debug("outbox.undeliverable", message=message_id, error=str(exc))  # summed up by the caller
    except Exception as exc:  # whatever breaks one message is that message's problem, not the run's
        error = (str(exc) or repr(exc))[:2000]
        if tried >= settings.outbox_max_attempts:
            _finish(engine, message_id, tried, status=OutboxStatus.failed, last_error=error)
            report.failed.append(message_id)
            log.warning("outbox.gave_up", message=message_id, attempts=tried, error=error)
        else:
            retry_at = utcnow() + backoff(settings, tried)
            _finish(engine, message_id, tried, next_attempt_at=retry_at, last_error=error)
            report.retrying.append(message_id)
            log.info("outbox.retry", message=message_id, attempts=tried, at=retry_at.isoformat())
    else:
        _finish(engine, message_id, tried, status=OutboxStatus.sent, sent_at=utcnow(), last_error=None)
        report.sent.append(message_id)


def deliver_pending(engine: Engine, settings: Settings, now: datetime | None = None) -> DeliveryReport:
    """Try every due message once (up to `outbox_batch`); one failure never holds up the others."""
    now = now or utcnow()
    report = DeliveryReport()
    senders = Senders(settings)
    try:
        for message_id, attempts in _due(engine, now, settings.outbox_batch):
            if _claim(engine, settings, message_id, attempts, now):
                _deliver_one(senders, engine, settings, message_id, attempts + 1, report)
            else:
                report.skipped += 1
    finally:
        senders.close()
    return report
