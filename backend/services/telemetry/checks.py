"""What ingest refused, quarantined or found missing, kept in the database (docs/ingest.md, docs/security.md).

Ingest sorts each message's samples with `backend.domain.telemetry_checks` and hands what it held back to
:func:`store`, in the same transaction as the batch's twins and usage sessions, so a re-delivered batch
counts nothing twice... except refusals: a message ingest refused and the broker delivers again is
refused (and counted) again, which errs on the side of showing more suspicious data, never less.

The sharing report (`refusals_between`) and /metrics (`totals`) read these tables.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, tuple_
from sqlmodel import Session, col, select

from backend.domain.billing import month_bounds
from backend.domain.telemetry_checks import QUARANTINED_SETTLED, REFUSED_FUTURE, Period, Point, SeqRanges
from backend.models.billing import Invoice
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.telemetry_checks import (
    IngestGauge,
    QuarantinedTelemetry,
    TelemetryRefusal,
    TelemetrySequence,
)
from backend.models.types import utcnow

BROKER_DROPPED = "broker_messages_dropped"
_HOUR_NS = 3600 * 10**9


def _hour(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // _HOUR_NS * 3600, UTC)


@dataclass
class HeldBack:
    """One batch's refusals, quarantined messages, message numbers seen and broker gauge."""

    #: (resource id, platform id, reason, hour) -> [samples, messages]
    refusals: dict[tuple[int, int, str, datetime], list[int]] = field(default_factory=dict)
    quarantined: list[QuarantinedTelemetry] = field(default_factory=list)
    seqs: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    gauges: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.refusals or self.quarantined or self.seqs or self.gauges)

    def refuse(self, resource_id: int, platform_id: int, reason: str, points: list[Point]) -> None:
        hours = Counter(_hour(ts) for ts, _ in points)
        for hour, samples in hours.items():
            counts = self.refusals.setdefault((resource_id, platform_id, reason, hour), [0, 0])
            counts[0] += samples
            counts[1] += 1

    def quarantine(self, resource_id: int, platform_id: int, agent: str, points: list[Point]) -> None:
        self.refuse(resource_id, platform_id, QUARANTINED_SETTLED, points)
        times = [ts for ts, _ in points]
        self.quarantined.append(
            QuarantinedTelemetry(
                resource_id=resource_id,
                platform_id=platform_id,
                agent=agent,
                reason=QUARANTINED_SETTLED,
                first_at=datetime.fromtimestamp(min(times) / 1e9, UTC),
                last_at=datetime.fromtimestamp(max(times) / 1e9, UTC),
                samples=[[ts, fields] for ts, fields in points],
            )
        )


def settled_periods(session: Session) -> dict[int, list[Period]]:
    """Per platform id, the months already invoiced, as [start, end) in epoch ns of the platform's zone."""
    zones = dict(session.exec(select(Platform.id, Platform.timezone)).all())
    months = session.exec(select(col(Invoice.platform_id), col(Invoice.month)).distinct()).all()
    out: dict[int, list[Period]] = defaultdict(list)
    for platform_id, first in months:
        start, end = month_bounds(first, zones.get(platform_id) or "UTC")
        out[platform_id].append((int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9))
    return dict(out)


def store(session: Session, held: HeldBack) -> None:
    """Add one batch's counts, quarantined messages, message numbers and gauges (in the caller's
    transaction; rows that several workers update are locked in a fixed order)."""
    for (resource_id, platform_id, reason, hour), (samples, messages) in sorted(held.refusals.items()):
        row = session.exec(
            select(TelemetryRefusal)
            .where(
                TelemetryRefusal.resource_id == resource_id,
                TelemetryRefusal.reason == reason,
                TelemetryRefusal.hour == hour,
            )
            .with_for_update()
        ).first()
        if row is None:
            row = TelemetryRefusal(resource_id=resource_id, platform_id=platform_id, reason=reason, hour=hour)
            session.add(row)
        row.samples += samples
        row.messages += messages
    for quarantined in held.quarantined:
        session.add(quarantined)
    keys = sorted(held.seqs)
    known = _sequence_rows(session, keys)
    for resource_id, agent in keys:
        seqs = held.seqs[(resource_id, agent)]
        seq_row = known.get((resource_id, agent))
        if seq_row is None:
            seq_row = TelemetrySequence(resource_id=resource_id, agent=agent)
            session.add(seq_row)
        ranges = SeqRanges([list(r) for r in seq_row.ranges or []])
        if ranges.add(seqs):
            seq_row.ranges = ranges.ranges
            seq_row.missing = ranges.missing
            seq_row.updated_at = utcnow()
    for name, value in held.gauges.items():
        gauge = session.get(IngestGauge, name, with_for_update=True)
        if gauge is None:
            session.add(IngestGauge(name=name, value=value))
        else:
            gauge.value, gauge.updated_at = value, utcnow()


def _sequence_rows(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], TelemetrySequence]:
    """The message-number rows of these (resource, agent) pairs that exist, locked, in one query."""
    if not keys:
        return {}
    rows = session.exec(
        select(TelemetrySequence)
        .where(tuple_(col(TelemetrySequence.resource_id), col(TelemetrySequence.agent)).in_(keys))
        .order_by(col(TelemetrySequence.resource_id), col(TelemetrySequence.agent))
        .with_for_update()
    )
    return {(row.resource_id, row.agent): row for row in rows}


def refusals_between(
    session: Session, start: datetime, end: datetime, platform_id: int | None = None
) -> dict[str, Any]:
    """Samples refused as future-dated and quarantined as inside settled months, with device times in
    [start, end) (to the hour), and the quarantined messages still awaiting review."""
    query = select(TelemetryRefusal.reason, func.sum(TelemetryRefusal.samples)).where(
        col(TelemetryRefusal.hour) >= start, col(TelemetryRefusal.hour) < end
    )
    if platform_id is not None:
        query = query.where(TelemetryRefusal.platform_id == platform_id)
    sums = dict(session.exec(query.group_by(TelemetryRefusal.reason)).all())
    pending = (
        select(func.count())
        .select_from(QuarantinedTelemetry)
        .where(
            col(QuarantinedTelemetry.reviewed_at).is_(None),
            col(QuarantinedTelemetry.last_at) >= start,
            col(QuarantinedTelemetry.first_at) < end,
        )
    )
    if platform_id is not None:
        pending = pending.where(QuarantinedTelemetry.platform_id == platform_id)
    return {
        "samples_refused_future": int(sums.get(REFUSED_FUTURE) or 0),
        "samples_quarantined": int(sums.get(QUARANTINED_SETTLED) or 0),
        "quarantined_messages_to_review": int(session.exec(pending).one()),
    }


def totals(session: Session) -> dict[str, float]:
    """Everything ingest held back or found missing so far, for /metrics."""
    sums = dict(
        session.exec(
            select(TelemetryRefusal.reason, func.sum(TelemetryRefusal.samples)).group_by(
                TelemetryRefusal.reason
            )
        ).all()
    )
    missing = session.exec(select(func.coalesce(func.sum(TelemetrySequence.missing), 0))).one()
    gauges = dict(session.exec(select(IngestGauge.name, IngestGauge.value)).all())
    return {
        "refused_future_samples": float(sums.get(REFUSED_FUTURE) or 0),
        "quarantined_samples": float(sums.get(QUARANTINED_SETTLED) or 0),
        "missing_messages": float(missing or 0),
        "broker_messages_dropped": float(gauges.get(BROKER_DROPPED, 0.0)),
    }


def platforms_of(session: Session, resource_ids: set[int]) -> dict[int, int]:
    """resource id -> its platform's id."""
    rows = session.exec(select(Resource.id, Resource.platform_id).where(col(Resource.id).in_(resource_ids)))
    return {rid: pid for rid, pid in rows.all() if rid is not None}
