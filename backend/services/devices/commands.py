"""Commands to instruments through the outbox: issued in the transaction of the change that wants them,
sent by the dispatcher (`pilotshare commands`), settled by the device's `cmd/ack` (read by ingest).

Each send is claimed by a guarded update (`attempts` still what was read, the state still open), so two
dispatchers never send the same attempt; a command whose claim committed but whose publish was lost is
sent again after its retry delay. Every command's creation and its outcome (applied, refused, expired) is
in the audit chain. The states and the retry rule: `backend.domain.commands`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.domain.access import NOBODY, Principal, Role, ensure_not_sme, ensure_reads_platform
from backend.domain.bookings import BookingStatus
from backend.domain.commands import (
    LOCK_LIFETIME,
    OPEN,
    CommandAction,
    CommandState,
    after_ack,
    is_due,
    retry_delay,
)
from backend.domain.errors import NotFound
from backend.models.booking import Booking
from backend.models.command import CommandPublic, DeviceCommand
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.twin import Twin
from backend.models.types import as_utc, utcnow
from backend.services import audit
from backend.services.common import get_or_404, page
from edge_agent.protocol import Command, OnBehalfOf, rfc3339

#: how many of its latest commands a twin shows
TWIN_COMMANDS = 10
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Outgoing:
    """A claimed send: where to publish and what."""

    id: str
    platform: str
    resource: str
    payload: bytes


def issue(
    session: Session,
    resource: Resource,
    action: CommandAction,
    args: dict[str, Any],
    expires_at: datetime,
    *,
    booking_id: int | None = None,
    user_id: int | None = None,
    created_by: int | None = None,
    now: datetime | None = None,
    touch_twin: bool = True,
) -> DeviceCommand:
    """Queue a command for `resource` on behalf of a booking or a user; the dispatcher sends it.
    `touch_twin=False`: the caller bumps the twin's version itself (one change, one version)."""
    assert (booking_id is None) != (user_id is None), "a command carries one authority"
    assert resource.id is not None
    now = now or utcnow()
    command = DeviceCommand(
        id=uuid.uuid4().hex,
        resource_id=resource.id,
        action=action.value,
        args=args,
        booking_id=booking_id,
        user_id=user_id,
        created_by_id=created_by,
        created_at=now,
        expires_at=expires_at,
        next_attempt_at=now,
    )
    session.add(command)
    if touch_twin:
        _touch_twin(session, resource.id, now)
    audit.append(
        session,
        "command.created",
        ("device_command", command.id),
        actor=created_by,
        platform_id=resource.platform_id,
        payload={
            "resource": resource.code,
            "action": action.value,
            "args": _audit_args(args),
            "booking": booking_id,
            "user": user_id,
            "expires_at": expires_at,
        },
    )
    return command


def _audit_args(args: dict[str, Any]) -> dict[str, Any]:
    # the chain takes no floats (no canonical text); their shortest repr is what the device was sent
    return {k: Decimal(repr(v)) if isinstance(v, float) else v for k, v in args.items()}


def _touch_twin(session: Session, resource_id: int, now: datetime) -> None:
    """A new version of the twin, so readers of the twin stream see the command's news."""
    session.execute(
        sa.update(Twin)
        .where(col(Twin.resource_id) == resource_id)
        .values(version=col(Twin.version) + 1, updated_at=now)
    )


def lock_outside_bookings(
    session: Session, resource: Resource, user_id: int, now: datetime | None = None
) -> DeviceCommand | None:
    """Lock a resource whose interlock was just turned on, on behalf of the operator who did it, unless a
    booking of it (or of a line it belongs to) is checked in now: that booking's check-out locks it."""
    now = now or utcnow()
    live = session.exec(
        select(Booking.id).where(
            Booking.resource_id == resource.id,
            Booking.status == BookingStatus.checked_in.value,
            col(Booking.starts_at) <= now,
            col(Booking.ends_at) > now,
        )
    ).first()
    if live is not None:
        return None
    return issue(
        session,
        resource,
        CommandAction.lock,
        {},
        now + LOCK_LIFETIME,
        user_id=user_id,
        created_by=user_id,
        now=now,
    )


# --------------------------------------------------------------------------- sending


def _online_since(twin: Twin | None) -> datetime | None:
    if twin is None or twin.connection_state == "unknown":
        return _LONG_AGO  # never heard of: try, the device may be there
    if twin.connection_state == "offline":
        return None
    return twin.connection_since or _LONG_AGO


def overdue(session: Session, now: datetime) -> bool:
    """Whether some open command is past its deadline (a read: an idle dispatcher never takes the
    database's write lock, which SQLite has one of for the whole database)."""
    deadline = session.exec(
        select(func.min(DeviceCommand.expires_at)).where(
            col(DeviceCommand.state).in_([s.value for s in OPEN])
        )
    ).one()
    return deadline is not None and as_utc(deadline) <= now


def due(session: Session, now: datetime, limit: int = 100) -> list[tuple[DeviceCommand, Resource, Platform]]:
    """The commands to send now (`is_due`), oldest first, with their resource and platform."""
    rows = session.exec(
        select(DeviceCommand, Resource, Platform, Twin)
        .join(Resource, col(Resource.id) == DeviceCommand.resource_id)
        .join(Platform, col(Platform.id) == Resource.platform_id)
        .outerjoin(Twin, col(Twin.resource_id) == DeviceCommand.resource_id)
        .where(col(DeviceCommand.state).in_([s.value for s in OPEN]), col(DeviceCommand.expires_at) > now)
        .order_by(col(DeviceCommand.created_at))
    ).all()
    out = []
    for command, resource, platform, twin in rows:
        when = (command.next_attempt_at, command.expires_at, command.last_sent_at, _online_since(twin))
        if is_due(command.state, now, *when):
            out.append((command, resource, platform))
            if len(out) >= limit:
                break
    return out


def claim_due(session: Session, now: datetime, first_retry: timedelta, limit: int = 100) -> list[Outgoing]:
    """Claim the commands due now and say what to publish for each; a command another dispatcher
    claimed first is left to it."""
    return [
        Outgoing(command.id, platform.code, resource.code, payload(command))
        for command, resource, platform in due(session, now, limit)
        if _claim(session, command, now, first_retry)
    ]


def _claim(session: Session, command: DeviceCommand, now: datetime, first_retry: timedelta) -> bool:
    attempts = command.attempts + 1
    claimed = session.execute(
        sa.update(DeviceCommand)
        .where(
            col(DeviceCommand.id) == command.id,
            col(DeviceCommand.attempts) == command.attempts,
            col(DeviceCommand.state).in_([s.value for s in OPEN]),
        )
        .values(
            state=CommandState.sent.value,
            attempts=attempts,
            last_sent_at=now,
            next_attempt_at=now + retry_delay(attempts, first_retry),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def payload(command: DeviceCommand) -> bytes:
    """The contract's `cmd` message for this command."""
    return Command(
        id=command.id,
        action=CommandAction(command.action).value,
        args=command.args,
        on_behalf_of=OnBehalfOf(booking=command.booking_id, user=command.user_id),
        expires=rfc3339(int(command.expires_at.timestamp() * 1_000_000) * 1000),
    ).to_json()


def expire_overdue(session: Session, now: datetime) -> list[str]:
    """Open commands past their deadline become expired (each in the audit chain)."""
    rows = session.exec(
        select(DeviceCommand, Resource)
        .join(Resource, col(Resource.id) == DeviceCommand.resource_id)
        .where(col(DeviceCommand.state).in_([s.value for s in OPEN]), col(DeviceCommand.expires_at) <= now)
        .with_for_update(of=DeviceCommand)
    ).all()
    for command, resource in rows:
        reason = (
            "not acknowledged before its deadline"
            if command.attempts
            else "never sent before its deadline: the device was offline (or the broker away)"
        )
        _settle(session, command, resource, CommandState.expired, reason, now)
    return [command.id for command, _ in rows]


# --------------------------------------------------------------------------- acknowledgements


@dataclass(frozen=True)
class Ack:
    resource_id: int
    id: str
    ok: bool
    error: str | None


def record_acks(session: Session, acks: Sequence[Ack], now: datetime | None = None) -> int:
    """Settle the acknowledged commands; returns how many changed. An ack for a command of another
    resource, an unknown id or an already settled command (a redelivery) changes nothing."""
    now = now or utcnow()
    wanted = {ack.id for ack in acks}
    if not wanted:
        return 0
    rows = session.exec(
        select(DeviceCommand, Resource)
        .join(Resource, col(Resource.id) == DeviceCommand.resource_id)
        .where(col(DeviceCommand.id).in_(wanted))
        .with_for_update(of=DeviceCommand)
    ).all()
    found = {command.id: (command, resource) for command, resource in rows}
    changed = 0
    for ack in acks:
        command, resource = found.get(ack.id, (None, None))
        if command is None or resource is None or command.resource_id != ack.resource_id:
            continue
        target = after_ack(command.state, ack.ok)
        if target is None:
            continue
        _settle(session, command, resource, target, None if ack.ok else ack.error or "refused", now)
        changed += 1
    return changed


def _settle(
    session: Session,
    command: DeviceCommand,
    resource: Resource,
    state: CommandState,
    error: str | None,
    now: datetime,
) -> None:
    before = command.state
    command.state = state.value
    command.error = error[:2000] if error else None
    if state is not CommandState.expired:
        command.acked_at = now
    session.add(command)
    _touch_twin(session, command.resource_id, now)
    audit.append(
        session,
        f"command.{state.value}",
        ("device_command", command.id),
        actor=None,
        platform_id=resource.platform_id,
        payload={
            "resource": resource.code,
            "action": command.action,
            "from": before,
            "attempts": command.attempts,
            "error": command.error,
        },
    )


# --------------------------------------------------------------------------- reading


def recent(
    session: Session, resource_id: int, who: Principal, limit: int = TWIN_COMMANDS
) -> list[CommandPublic]:
    """A twin's latest commands, newest first; an SME (who sees a twin during its own booking) sees
    only those sent for its organization's bookings."""
    query = select(DeviceCommand).where(DeviceCommand.resource_id == resource_id)
    if who.role is Role.sme:
        own = select(Booking.id).where(Booking.organization_id == (who.organization_id or NOBODY))
        query = query.where(col(DeviceCommand.booking_id).in_(own))
    rows = session.exec(
        query.order_by(col(DeviceCommand.created_at).desc(), col(DeviceCommand.id)).limit(limit)
    )
    return [CommandPublic.of(row) for row in rows]


def get_command(session: Session, who: Principal, command_id: str) -> CommandPublic:
    """One command and what became of it: its platform's operators, auditors and administrators."""
    row = session.get(DeviceCommand, command_id)
    if row is None:
        raise NotFound(f"command {command_id} does not exist")
    ensure_not_sme(who, "commands")
    ensure_reads_platform(who, get_or_404(session, Resource, row.resource_id, "resource").platform_id)
    return CommandPublic.of(row)


def list_commands(
    session: Session,
    who: Principal,
    resource_id: int,
    offset: int,
    limit: int,
    state: CommandState | None = None,
) -> tuple[list[CommandPublic], int]:
    """A resource's commands, newest first: its platform's operators, auditors and administrators."""
    resource = get_or_404(session, Resource, resource_id, "resource")
    ensure_not_sme(who, "commands")
    ensure_reads_platform(who, resource.platform_id)
    query = select(DeviceCommand).where(DeviceCommand.resource_id == resource_id)
    if state is not None:
        query = query.where(DeviceCommand.state == state.value)
    query = query.order_by(col(DeviceCommand.created_at).desc(), col(DeviceCommand.id))
    rows, count = page(session, query, offset, limit)
    return [CommandPublic.of(row) for row in rows], count
