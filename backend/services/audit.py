"""The audit log: record what changed in the change's own transaction; read and verify the chain.

`append` queues an event on the session; the events are chained and written when that session
commits, inside its transaction (a `before_commit` hook). So no change lands without its event and no
event is kept for a change that was rolled back. The chain head is locked only in that last moment,
after every other lock the transaction takes (booking transactions lock resources first): whoever
holds the head is about to commit, so waiting for it cannot deadlock, and the head is held for
milliseconds.

Serialization: the first statement of the write is `UPDATE audit_head SET seq = seq + n ... RETURNING`.
On PostgreSQL it row-locks the head until commit, so a second appender waits and then sees the first's
sequence numbers; on SQLite it takes the database write lock (held anyway by a transaction that has
written its change). The sequence number is the table's primary key, so even a bug here could not
store a fork: the second row with the same number is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from backend.domain.access import Principal, ensure_not_sme
from backend.domain.audit import (
    EMPTY,
    GENESIS,
    AuditRecord,
    Head,
    JSONValue,
    Verdict,
    jsonable,
    next_record,
    verify,
)
from backend.domain.errors import Invalid
from backend.models.audit import AuditEvent, AuditHead
from backend.models.types import utcnow
from backend.services.common import page, within_scope

_PENDING = "pilotshare_audit_pending"
_BATCH = 5000


@dataclass(frozen=True)
class _Pending:
    actor: str
    action: str
    subject_type: str
    subject_id: str
    platform_id: int | None
    payload: JSONValue


def actor_of(user_id: int | None) -> str:
    """How an event names who did it: `user:{id}`, or `system` for background jobs and seeding."""
    return "system" if user_id is None else f"user:{user_id}"


def append(
    session: Session,
    action: str,
    subject: tuple[str, int | str],
    *,
    actor: int | None,
    platform_id: int | None,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Record `action` on `subject` (type, id) by user `actor` (None: the system).

    Call it after the change is made, in the same session; the event is written when the session
    commits, in that transaction, and dropped when it rolls back. A savepoint (`begin_nested`) neither
    writes nor drops events, so call it after a savepoint that may roll back, not inside it.

    `payload` holds the facts worth keeping (statuses, times, prices): strings, integers, booleans,
    Decimals, dates and aware datetimes; floats are refused (see backend.domain.audit.jsonable).
    """
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        if not event.contains(session, "before_commit", _write_pending):
            event.listen(session, "before_commit", _write_pending)
            event.listen(session, "after_rollback", _forget_pending)
    subject_type, subject_id = subject
    pending.append(
        _Pending(actor_of(actor), action, subject_type, str(subject_id), platform_id, jsonable(payload or {}))
    )


def _forget_pending(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint rolled back: the transaction goes on
        session.info.pop(_PENDING, None)


def _write_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint (e.g. save_with_members) is not the commit
        return
    pending: list[_Pending] = session.info.pop(_PENDING, None) or []
    if not pending:
        return
    session.flush()  # the change itself goes first; the head is the last lock this transaction takes
    write_events(session.connection(), pending)


def write_events(connection: Connection, pending: list[_Pending], at: datetime | None = None) -> None:
    head_table = AuditHead.__table__  # type: ignore[attr-defined]
    taken = connection.execute(_take_head(), {"n": len(pending)}).first()
    if taken is None:  # a database made without migration 0006's head row
        connection.execute(sa.insert(head_table).values(id=1, seq=len(pending), hash=GENESIS))
        head = EMPTY
    else:
        head = Head(taken.seq - len(pending), taken.hash)
    at = at or utcnow()
    rows = []
    for p in pending:
        record = next_record(
            head, at, p.actor, p.action, p.subject_type, p.subject_id, p.platform_id, _as_mapping(p.payload)
        )
        rows.append(asdict(record))
        head = Head(record.seq, record.hash)
    if connection.dialect.name == "postgresql":
        # One round trip fewer while this transaction holds the head's lock: the events are inserted by
        # a data-modifying WITH of the statement that moves the head (PostgreSQL runs it in full).
        parameters = {f"{name}_{i}": value for i, row in enumerate(rows) for name, value in row.items()}
        connection.execute(_events_and_head(len(rows)), {**parameters, "hash": head.hash})
        return
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    connection.execute(sa.insert(events), rows)
    connection.execute(_move_head(), {"hash": head.hash})


# The statements every appender runs, built once with parameters: compiled once too (a multi-row
# VALUES of literal rows has no cache key, and compiling it cost a tenth of a booking's CPU).


@cache
def _take_head() -> Any:
    head_table = AuditHead.__table__  # type: ignore[attr-defined]
    return (
        sa.update(head_table)
        .where(head_table.c.id == 1)
        .values(seq=head_table.c.seq + sa.bindparam("n", type_=sa.Integer))
        .returning(head_table.c.seq, head_table.c.hash)
    )


@cache
def _move_head() -> Any:
    head_table = AuditHead.__table__  # type: ignore[attr-defined]
    return sa.update(head_table).where(head_table.c.id == 1).values(hash=sa.bindparam("hash"))


@cache
def _events_and_head(count: int) -> Any:
    """`_move_head` with `count` events inserted in a data-modifying WITH, parameters `{column}_{i}`.
    The rows come as a SELECT of parameters: a multi-row VALUES would have no cache key."""
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    rows = [sa.select(*(sa.bindparam(f"{c.name}_{i}", type_=c.type) for c in events.c)) for i in range(count)]
    written = sa.insert(events).from_select(list(events.c), rows[0] if count == 1 else sa.union_all(*rows))
    return _move_head().add_cte(written.cte("written_events"))


def _as_mapping(payload: JSONValue) -> Mapping[str, Any]:
    assert isinstance(payload, dict)
    return payload


# --- reading -----------------------------------------------------------------------------------


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        row.seq,
        row.at,
        row.actor,
        row.action,
        row.subject_type,
        row.subject_id,
        row.platform_id,
        row.payload,
        row.prev_hash,
        row.hash,
    )


def recorded_head(connection: Connection) -> Head:
    head_table = AuditHead.__table__  # type: ignore[attr-defined]
    row = connection.execute(
        sa.select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)
    ).first()
    return EMPTY if row is None else Head(row.seq, row.hash)


def _records(connection: Connection) -> Iterator[AuditRecord]:
    """Every event in seq order, a batch at a time (keyset paging keeps memory flat on long chains)."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    after: int | None = None
    while True:
        statement = sa.select(table).order_by(table.c.seq).limit(_BATCH)
        if after is not None:
            statement = statement.where(table.c.seq > after)
        rows = connection.execute(statement).all()
        for row in rows:
            yield _record(row)
        if len(rows) < _BATCH:
            return
        after = rows[-1].seq


def head_recorded_at(session: Session, head: Head) -> datetime | None:
    """When the head event was recorded (None for an empty chain, or a head whose row is missing)."""
    return session.exec(select(AuditEvent.at).where(AuditEvent.seq == head.seq)).first()


def snapshot(engine: Engine) -> Connection:
    """A connection whose next transaction reads one consistent state of the whole database.

    PostgreSQL: REPEATABLE READ (one snapshot for every statement). SQLite: a read transaction is a
    snapshot already (WAL mode).
    """
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="REPEATABLE READ")
    return engine.connect()


def verify_connection(connection: Connection) -> Verdict:
    """Verify the chain as `connection` sees it; use it inside a `snapshot` transaction."""
    return verify(_records(connection), recorded_head(connection))


def verify_chain(engine: Engine) -> Verdict:
    with snapshot(engine) as connection, connection.begin():
        return verify_connection(connection)


def ensure_may_read(who: Principal) -> None:
    ensure_not_sme(who, "audit logs")


def list_events(
    session: Session,
    who: Principal,
    *,
    subject: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    platform_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[AuditEvent], int]:
    """Events in chain order. `subject` is a type (`booking`) or type and id (`booking:42`); operators
    see their own platform's events only."""
    ensure_may_read(who)
    statement = select(AuditEvent).order_by(col(AuditEvent.seq))
    statement = within_scope(statement, who, AuditEvent.platform_id)
    if platform_id is not None:
        statement = statement.where(AuditEvent.platform_id == platform_id)
    if subject:
        kind, _, ident = subject.partition(":")
        if not kind:
            raise Invalid("subject", "give a type (booking) or a type and id (booking:42)")
        statement = statement.where(AuditEvent.subject_type == kind)
        if ident:
            statement = statement.where(AuditEvent.subject_id == ident)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if actor:
        statement = statement.where(AuditEvent.actor == actor)
    if start is not None:
        statement = statement.where(col(AuditEvent.at) >= start)
    if end is not None:
        statement = statement.where(col(AuditEvent.at) < end)
    return page(session, statement, offset, limit)


def payload_of(event_row: AuditEvent) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event_row.payload)
    return data
