"""Reviewing what ingest quarantined: samples stamped inside a month that is already invoiced.

Ingest never lets such samples change settled figures (docs/ingest.md); it keeps each message for a
person to look at. A reviewer (an operator of the platform, or an administrator) either releases the
samples into the telemetry store, so the run data of the booking they belong to is complete, or
discards them (a forgery, a misconfigured agent) and they stay as evidence. Neither changes usage
sessions, invoices or reports. Each decision is in the audit chain; auditors read the whole list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from backend.adapters.influx import InfluxClient, store_errors, telemetry_lines
from backend.domain.access import Principal, ensure_manages_platform, ensure_not_sme, ensure_reads_platform
from backend.domain.errors import Conflict
from backend.domain.telemetry_checks import QuarantineDecision
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.telemetry_checks import QuarantinedPublic, QuarantinedTelemetry
from backend.models.types import utcnow
from backend.services import audit
from backend.services.common import get_or_404, page, within_scope


def list_quarantined(
    session: Session,
    who: Principal,
    platform_id: int | None,
    reviewed: bool | None,
    offset: int,
    limit: int,
) -> tuple[list[QuarantinedPublic], int]:
    """Quarantined messages the caller's platform (operators) or every platform (auditors, admins)
    holds, newest first; `reviewed` False for those still waiting for a decision."""
    ensure_not_sme(who, "quarantined telemetry")
    query = within_scope(select(QuarantinedTelemetry), who, QuarantinedTelemetry.platform_id)
    if platform_id is not None:
        query = query.where(QuarantinedTelemetry.platform_id == platform_id)
    if reviewed is not None:
        reviewed_at = col(QuarantinedTelemetry.reviewed_at)
        query = query.where(reviewed_at.is_not(None) if reviewed else reviewed_at.is_(None))
    order = (col(QuarantinedTelemetry.received_at).desc(), col(QuarantinedTelemetry.id).desc())
    rows, count = page(session, query.order_by(*order), offset, limit)
    wanted = {row.resource_id for row in rows}
    codes = dict(session.exec(select(Resource.id, Resource.code).where(col(Resource.id).in_(wanted))).all())
    return [_public(row, codes[row.resource_id]) for row in rows], count


def get_quarantined(session: Session, who: Principal, quarantined_id: int) -> QuarantinedPublic:
    """One quarantined message, for whoever may list it."""
    ensure_not_sme(who, "quarantined telemetry")
    row = get_or_404(session, QuarantinedTelemetry, quarantined_id, "quarantined message")
    ensure_reads_platform(who, row.platform_id)
    resource = get_or_404(session, Resource, row.resource_id, "resource")
    return _public(row, resource.code)


def review(
    session: Session,
    client: InfluxClient,
    who: Principal,
    quarantined_id: int,
    decision: QuarantineDecision,
    note: str | None = None,
    now: datetime | None = None,
) -> QuarantinedPublic:
    """Decide on one quarantined message, once (409 when it was reviewed before). Releasing writes its
    samples first: should the decision then fail to commit, writing them again stores nothing twice."""
    row = get_or_404(session, QuarantinedTelemetry, quarantined_id, "quarantined message")
    session.refresh(row, with_for_update=True)  # two reviewers at once: the second waits, then sees the first
    ensure_manages_platform(who, row.platform_id)
    if row.reviewed_at is not None:
        raise Conflict(f"quarantined message {quarantined_id} was reviewed already ({row.decision})")
    resource = get_or_404(session, Resource, row.resource_id, "resource")
    if decision is QuarantineDecision.release:
        platform = get_or_404(session, Platform, row.platform_id, "platform")
        _write(client, platform.code, resource.code, row.samples)
    row.reviewed_at, row.reviewed_by_id = now or utcnow(), who.user_id
    row.decision, row.review_note = decision.value, note
    session.add(row)
    session.flush()
    audit.append(
        session,
        f"telemetry.quarantine_{decision.value}",
        ("quarantined_telemetry", quarantined_id),
        actor=who.user_id,
        platform_id=row.platform_id,
        payload={
            "resource": resource.code,
            "agent": row.agent,
            "samples": len(row.samples),
            "first_at": row.first_at,
            "last_at": row.last_at,
            "note": note,
        },
    )
    return _public(row, resource.code)


def _write(client: InfluxClient, platform: str, resource: str, samples: list[Any]) -> None:
    """The samples as ingest kept them: [[epoch ns, {field: value}], ...]."""
    points = [(int(ts), fields) for ts, fields in samples]
    with store_errors():
        client.ensure_database()
        client.write(telemetry_lines(platform, resource, points))


def _public(row: QuarantinedTelemetry, resource: str) -> QuarantinedPublic:
    fields = sorted({name for _, values in row.samples for name in values})
    return QuarantinedPublic(
        id=row.id or 0,
        platform_id=row.platform_id,
        resource_id=row.resource_id,
        resource=resource,
        agent=row.agent,
        reason=row.reason,
        first_at=row.first_at,
        last_at=row.last_at,
        samples=len(row.samples),
        fields=fields,
        received_at=row.received_at,
        reviewed_at=row.reviewed_at,
        reviewed_by_id=row.reviewed_by_id,
        decision=QuarantineDecision(row.decision) if row.decision else None,
        review_note=row.review_note,
    )
