"""Digital twins: what ingest records (reported values, connection, alarms) and what the API shows.

Only ingest writes `reported`, `connection_*` and alarms; only the API writes `desired`. Each change
bumps `version` by one inside the same transaction, taken with the write lock (SQLite) or a row
lock (PostgreSQL), so two writers never hand out the same version.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.db import unit_of_work
from backend.domain.access import (
    Principal,
    Role,
    can_manage_platform,
    ensure_manages_platform,
    ensure_not_sme,
)
from backend.domain.alarms import AlarmState, links_booking
from backend.domain.bookings import BookingStatus
from backend.domain.commands import (
    LOCK_FIELDS,
    CommandAction,
    Limits,
    attribute_limits,
    lock_action,
    parse_limits,
    setpoint_problem,
)
from backend.domain.devices import declared_names
from backend.domain.errors import AccessDenied, Invalid, NotFound
from backend.domain.telemetry_checks import ns_to_datetime
from backend.models.booking import Booking, status_in
from backend.models.command import CommandPublic
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.twin import Alarm, AlarmPublic, Connection, Reading, Twin, TwinPublic
from backend.models.types import utcnow
from backend.services.catalog.resources import attributes_of
from backend.services.common import within_scope
from backend.services.devices import commands
from backend.services.notifications.outbox import notify_alarm

FieldValue = bool | int | float | str
MAX_DESIRED_FIELDS = 200

#: Bookings whose run data belongs to the SME that made them.
RUN_STATUSES = frozenset({BookingStatus.approved, BookingStatus.checked_in, BookingStatus.completed})


def ns_to_text(ns: int) -> str:
    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- what ingest hands over


@dataclass
class TwinChanges:
    """Everything one ingest batch learned about one resource."""

    readings: dict[str, tuple[int, FieldValue]] = field(default_factory=dict)  # field -> (ts ns, value)
    connection: tuple[str, datetime, str | None] | None = None  # state, since, agent

    def read(self, name: str, ts_ns: int, value: FieldValue) -> None:
        known = self.readings.get(name)
        if known is None or ts_ns >= known[0]:
            self.readings[name] = (ts_ns, value)


@dataclass(frozen=True)
class AlarmRecord:
    resource_id: int
    ts: datetime
    kind: str
    code: str
    severity: str
    message: str
    agent: str | None


def _locked_twin(session: Session, resource_id: int) -> Twin:
    return _locked_twins(session, [resource_id])[resource_id]


def _locked_twins(session: Session, resource_ids: Sequence[int]) -> dict[int, Twin]:
    """The twins of these resources, locked in resource order in one query (missing ones made)."""
    wanted = sorted(set(resource_ids))
    query = select(Twin).where(col(Twin.resource_id).in_(wanted)).order_by(col(Twin.resource_id))
    twins = {twin.resource_id: twin for twin in session.exec(query.with_for_update())}
    for resource_id in wanted:
        if resource_id not in twins:
            twins[resource_id] = Twin(resource_id=resource_id)
            session.add(twins[resource_id])
    return twins


def ensure_twins(engine: Engine, resource_ids: Iterable[int]) -> None:
    """Make the twins of these resources exist, in a transaction of its own.

    Several ingest workers meeting the same new resources would otherwise race to insert the same twin
    inside their batch transactions (a primary key conflict, or a deadlock between one's insert and the
    other's row locks) and retry; here a twin another worker inserted meanwhile is simply left alone.
    """
    rows = [Twin(resource_id=rid).model_dump() for rid in sorted(set(resource_ids))]
    if not rows:
        return
    with unit_of_work(engine) as session:
        insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(Twin).values(rows).on_conflict_do_nothing(index_elements=["resource_id"]))


def _bump(twin: Twin) -> None:
    twin.version = (twin.version or 0) + 1
    twin.updated_at = utcnow()


def apply_changes(session: Session, changes: dict[int, TwinChanges]) -> int:
    """Merge one batch into the twins; returns how many twins changed.

    A reading older than the one kept (a late sample from an agent's disk buffer) does not replace it.
    """
    changed = 0
    twins = _locked_twins(session, list(changes))
    for resource_id in sorted(changes):
        change = changes[resource_id]
        twin = twins[resource_id]
        reported = dict(twin.reported or {})
        dirty = False
        for name, (ts_ns, value) in change.readings.items():
            known = reported.get(name)
            if known is not None and known.get("ns", 0) > ts_ns:
                continue
            if known is not None and known.get("ns") == ts_ns and known.get("value") == value:
                continue
            reported[name] = {"value": value, "ts": ns_to_text(ts_ns), "ns": ts_ns}
            dirty = True
        if dirty:
            twin.reported = reported
        if change.connection is not None:
            state, since, agent = change.connection
            if twin.connection_state != state or (state == "online" and twin.connection_since != since):
                twin.connection_state = state
                twin.connection_since = since
                if agent is not None:
                    twin.agent = agent
                dirty = True
        if dirty:
            _bump(twin)
            changed += 1
    return changed


def store_alarms(session: Session, alarms: Sequence[AlarmRecord]) -> int:
    """Insert alarms not stored yet (a redelivered event is the same alarm); returns how many were new."""
    new = 0
    seen: set[tuple[int, datetime, str, str]] = set()
    for alarm in alarms:
        key = (alarm.resource_id, alarm.ts, alarm.kind, alarm.code)
        if key in seen:
            continue
        seen.add(key)
        exists = session.exec(
            select(Alarm.id).where(
                Alarm.resource_id == alarm.resource_id,
                Alarm.ts == alarm.ts,
                Alarm.kind == alarm.kind,
                Alarm.code == alarm.code,
            )
        ).first()
        if exists is None:
            stored = Alarm(
                resource_id=alarm.resource_id,
                ts=alarm.ts,
                kind=alarm.kind,
                code=alarm.code,
                severity=alarm.severity,
                message=alarm.message[:2000],
                agent=alarm.agent,
            )
            if links_booking(alarm.severity):
                stored.booking_id = _running_booking(session, alarm.resource_id, alarm.ts)
                session.add(stored)
                session.flush()
                notify_alarm(session, stored, "alarm.critical")
            else:
                session.add(stored)
            new += 1
    return new


def _running_booking(session: Session, resource_id: int, at: datetime) -> int | None:
    """The booking whose slot holds `at` on the resource (a line's instruments carry its child rows)."""
    return session.exec(
        select(Booking.id).where(
            Booking.resource_id == resource_id,
            status_in(RUN_STATUSES),
            col(Booking.starts_at) <= at,
            col(Booking.ends_at) > at,
        )
    ).first()


def resource_ids_by_code(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(platform code, resource code) -> resource id, for the keys that exist."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = session.exec(
        select(Platform.code, Resource.code, Resource.id)
        .join(Platform, col(Platform.id) == Resource.platform_id)
        .where(col(Resource.code).in_({r for _, r in wanted}))
    ).all()
    return {(p, r): rid for p, r, rid in rows if (p, r) in wanted and rid is not None}


# --------------------------------------------------------------------------- access


def _resource(session: Session, resource_id: int) -> tuple[Resource, Platform]:
    row = session.exec(
        select(Resource, Platform)
        .join(Platform, col(Platform.id) == Resource.platform_id)
        .where(Resource.id == resource_id)
    ).first()
    if row is None:
        raise NotFound(f"resource {resource_id} not found")
    return row[0], row[1]


def run_windows(
    session: Session, who: Principal, resource_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) covered by bookings of the caller's organization on the resource."""
    if who.organization_id is None:
        return []
    rows = session.exec(
        select(Booking.starts_at, Booking.ends_at).where(
            Booking.resource_id == resource_id,
            Booking.organization_id == who.organization_id,
            status_in(RUN_STATUSES),
            col(Booking.starts_at) < end,
            col(Booking.ends_at) > start,
        )
    ).all()
    windows = sorted((max(s, start), min(e, end)) for s, e in rows if s is not None and e is not None)
    merged: list[tuple[datetime, datetime]] = []
    for s, e in windows:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def ensure_sees_twin(session: Session, who: Principal, resource: Resource) -> None:
    """Staff of the platform, admins and auditors; an SME only during its own booking on it."""
    if who.role in (Role.admin, Role.auditor):
        return
    if who.role is Role.operator:
        if can_manage_platform(who, resource.platform_id):
            return
        raise AccessDenied("only operators of this resource's platform see its twin")
    now = utcnow()
    assert resource.id is not None
    if not run_windows(session, who, resource.id, now, now + _EPSILON):
        raise AccessDenied("an SME sees a twin only while its own booking on the resource runs")


_EPSILON = datetime.resolution * 1000


# --------------------------------------------------------------------------- reads and desired


def to_public(
    twin: Twin | None,
    resource: Resource,
    platform: Platform,
    recent_commands: list[CommandPublic] | None = None,
) -> TwinPublic:
    reported = {
        name: Reading(value=r["value"], ts=datetime.fromisoformat(r["ts"]))
        for name, r in ((twin.reported or {}) if twin else {}).items()
    }
    desired = dict(twin.desired or {}) if twin else {}
    delta = {
        name: value
        for name, value in desired.items()
        if name not in reported or reported[name].value != value
    }
    assert resource.id is not None
    return TwinPublic(
        resource_id=resource.id,
        resource_code=resource.code,
        platform_code=platform.code,
        reported=reported,
        desired=desired,
        delta=delta,
        connection=Connection(
            state=twin.connection_state if twin else "unknown",
            since=twin.connection_since if twin else None,
        ),
        version=twin.version if twin else 0,
        updated_at=twin.updated_at if twin else None,
        commands=recent_commands or [],
    )


def get_twin(session: Session, who: Principal, resource_id: int) -> TwinPublic:
    resource, platform = _resource(session, resource_id)
    ensure_sees_twin(session, who, resource)
    return to_public(
        session.get(Twin, resource_id), resource, platform, commands.recent(session, resource_id, who)
    )


def set_desired(
    session: Session,
    who: Principal,
    resource_id: int,
    desired: dict[str, FieldValue | None],
    command_ttl: timedelta = timedelta(minutes=5),
) -> TwinPublic:
    """Record what the operator wants and queue the commands that ask the device for it: a setpoint per
    changed field, a lock or unlock for `interlock` (true locks), each valid for `command_ttl`."""
    resource, platform = _resource(session, resource_id)
    ensure_manages_platform(who, resource.platform_id)
    for name, value in desired.items():
        if not name or len(name) > 64 or name == "time":
            raise Invalid(f"desired.{name}", "field names are 1-64 characters and not 'time'")
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(f"desired.{name}", "numbers must be finite")
    twin = _locked_twin(session, resource_id)
    _check_declared(twin, desired, attributes_of(session, resource_id))
    before = dict(twin.desired or {})
    merged = dict(before)
    for name, value in desired.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if len(merged) > MAX_DESIRED_FIELDS:
        raise Invalid("desired", f"at most {MAX_DESIRED_FIELDS} fields")
    if merged != (twin.desired or {}) or twin.version == 0:
        twin.desired = merged
        _bump(twin)
    session.flush()
    _queue_commands(session, who, resource, before, merged, utcnow() + command_ttl)
    session.flush()
    return to_public(twin, resource, platform, commands.recent(session, resource_id, who))


def _queue_commands(
    session: Session,
    who: Principal,
    resource: Resource,
    before: dict[str, object],
    after: dict[str, object],
    expires_at: datetime,
) -> None:
    for name in sorted(after):
        value = after[name]
        if name in before and before[name] == value and type(before[name]) is type(value):
            continue
        lock = lock_action(value) if name in LOCK_FIELDS else None
        action, args = (lock, {}) if lock is not None else (CommandAction.setpoint, {name: value})
        commands.issue(
            session,
            resource,
            action,
            args,
            expires_at,
            user_id=who.user_id,
            created_by=who.user_id,
            touch_twin=False,  # set_desired bumped it
        )


def _check_declared(
    twin: Twin, desired: dict[str, FieldValue | None], attributes: Mapping[str, object]
) -> None:
    """Once the device has declared its setpoints (birth message), only those can be wanted, within the
    limits it declares (`setpoint_limits`) and those an operator set on the resource (attributes
    `{name}_min`, `{name}_max`); `interlock` takes true (lock) or false (unlock). A null still removes
    anything, so a stale entry can always be cleared."""
    declared = declared_names(_reported_value(twin, "setpoints"))
    device_limits = parse_limits(_reported_value(twin, "setpoint_limits"))
    for name, value in desired.items():
        if value is None:
            continue
        if name in LOCK_FIELDS:
            if lock_action(value) is None:
                raise Invalid(f"desired.{name}", "the interlock takes true (lock) or false (unlock)")
            continue
        limits = [device_limits.get(name, Limits()), attribute_limits(attributes, name)]
        problem = setpoint_problem(name, value, declared, limits)
        if problem is not None:
            raise Invalid(f"desired.{name}", problem)


def _reported_value(twin: Twin | None, name: str) -> object:
    reading = (twin.reported or {}).get(name) if twin is not None else None
    return reading.get("value") if isinstance(reading, dict) else None


def reported_fields(session: Session, resource_id: int) -> list[str]:
    """Names the resource has reported (telemetry signals and birth facts), as its twin keeps them."""
    twin = session.get(Twin, resource_id)
    return sorted((twin.reported or {}) if twin is not None else {})


def visible_twin_versions(
    session: Session, who: Principal, since: datetime, limit: int = 500
) -> list[tuple[int, int]]:
    """(resource id, version) of twins changed at or after `since` that the caller may see."""
    query = select(Twin.resource_id, Twin.version).where(col(Twin.updated_at) >= since)
    if who.role is Role.operator:
        query = query.join(Resource, col(Resource.id) == Twin.resource_id).where(
            Resource.platform_id == who.platform_id
        )
    elif who.role is Role.sme:
        now = utcnow()
        query = query.where(
            col(Twin.resource_id).in_(
                select(Booking.resource_id).where(
                    Booking.organization_id == who.organization_id,
                    status_in(RUN_STATUSES),
                    col(Booking.starts_at) <= now,
                    col(Booking.ends_at) > now,
                )
            )
        )
    rows = session.exec(query.order_by(col(Twin.updated_at)).limit(limit)).all()
    return [(rid, version) for rid, version in rows]


def twins_by_id(session: Session, who: Principal, resource_ids: Sequence[int]) -> list[TwinPublic]:
    rows = session.exec(
        select(Twin, Resource, Platform)
        .join(Resource, col(Resource.id) == Twin.resource_id)
        .join(Platform, col(Platform.id) == Resource.platform_id)
        .where(col(Twin.resource_id).in_(resource_ids))
    ).all()
    return [to_public(t, r, p, commands.recent(session, r.id or 0, who)) for t, r, p in rows]


def list_alarms(
    session: Session,
    who: Principal,
    resource_id: int | None,
    start: datetime | None,
    end: datetime | None,
    offset: int,
    limit: int,
    state: AlarmState | None = None,
) -> tuple[list[AlarmPublic], int]:
    query = select(Alarm)
    if state is not None:
        query = query.where(Alarm.state == state)
    if resource_id is not None:
        resource, _ = _resource(session, resource_id)
        ensure_not_sme(who, "alarms")
        ensure_sees_twin(session, who, resource)
        query = query.where(Alarm.resource_id == resource_id)
    else:
        ensure_not_sme(who, "alarms")
        query = query.join(Resource, col(Resource.id) == Alarm.resource_id)
        query = within_scope(query, who, Resource.platform_id)
    if start is not None:
        query = query.where(col(Alarm.ts) >= start)
    if end is not None:
        query = query.where(col(Alarm.ts) < end)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Alarm.ts).desc(), col(Alarm.id).desc()).offset(offset).limit(limit)
    )
    return [AlarmPublic.model_validate(a, from_attributes=True) for a in rows], int(count)


def resource_with_platform(session: Session, resource_id: int) -> tuple[Resource, Platform]:
    return _resource(session, resource_id)


def changed_twins(engine: Engine, who: Principal, since: datetime, sent: dict[int, int]) -> list[TwinPublic]:
    """The twins `who` may see whose version changed since `since` and was not
    sent yet (`sent`: resource id -> version, updated here). One short unit of work per poll."""
    with unit_of_work(engine) as session:
        versions = visible_twin_versions(session, who, since)
        fresh = [rid for rid, version in versions if sent.get(rid) != version]
        if not fresh:
            return []
        twins = twins_by_id(session, who, fresh)
    for twin in twins:
        sent[twin.resource_id] = twin.version
    return twins
