"""Engine and session factories. One unit of work = one session = one transaction."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import psycopg
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

from backend.settings import Settings


def make_engine(settings: Settings) -> Engine:
    engine = _make_engine(settings)
    event.listen(engine, "begin", _transaction_begins)
    event.listen(engine, "before_cursor_execute", _note_write)
    event.listen(engine, "commit", _commit_begins)
    event.listen(engine, "rollback", _forget_writes)
    if not event.contains(OrmSession, "after_commit", _commit_finished):
        event.listen(OrmSession, "after_commit", _commit_finished)
    return engine


def _make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
    event.listen(engine, "connect", _returned)
    event.listen(engine, "checkin", _returned)
    event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


#: a pooled connection that has been idle this long is pinged (one round trip) before it is handed out
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "pilotshare_returned_at"


def _returned(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's `pool_pre_ping`, but only for connections idle for a while. Under load a connection
    comes back to the pool within milliseconds and is handed out again at once; pinging it every time
    cost a round trip per request (a quarter of an availability answer's time). A connection that
    waited in the pool, through a database restart for instance, is still checked: when its ping finds
    the server gone, the whole pool is replaced and the request gets a new connection. A restart under
    load fails the requests it interrupts, as it would with a ping on every checkout."""
    if time.monotonic() - record.info.get(_RETURNED_AT, 0.0) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, dbapi_connection, None):
            raise exc.InvalidatePoolError() from error
        raise


class _Commits:
    """Commits that wrote, this process has begun or finished, counted up and never down."""

    lock = threading.Lock()
    count = 0
    #: per thread: a commit that wrote has begun and its unit of work has not yet seen it finish
    finishing = threading.local()


#: a statement starting with one of these changes no row: a transaction of only these writes nothing
_NO_WRITE = ("SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "SHOW", "SET ", "PRAGMA")
_WROTE = "pilotshare_wrote"


def _transaction_begins(_connection: Connection) -> None:
    # a Core transaction's commit has no unit of work to see it finish: not this one's business
    _Commits.finishing.pending = False


def _note_write(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    if not connection.info.get(_WROTE) and not statement.lstrip()[:10].upper().startswith(_NO_WRITE):
        connection.info[_WROTE] = True


def _count_commit() -> None:
    with _Commits.lock:
        _Commits.count += 1


def _commit_begins(connection: Connection) -> None:
    if connection.info.pop(_WROTE, False):
        _count_commit()
        _Commits.finishing.pending = True


def _forget_writes(connection: Connection) -> None:
    if not connection.invalidated:  # a lost connection has no info left, and asking for it would raise
        connection.info.pop(_WROTE, None)


def _commit_finished(_session: Any) -> None:
    if getattr(_Commits.finishing, "pending", False):
        _Commits.finishing.pending = False
        _count_commit()


def commits_seen() -> int:
    """A number that changes whenever this process begins a commit that wrote something, and when a unit
    of work sees that commit finished (its COMMIT returned): an answer read from the database when it was
    `n` is out of date once it is no longer `n` (backend.http.caching.RecentAnswers). Transactions that only
    read (most requests) change nothing, so they do not retire kept answers."""
    return _Commits.count


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (below), so that a writer can ask for the write lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(WRITE_LOCK, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_LOCK = "pilotshare_write_lock"


def writer(engine: Engine) -> Engine:
    """The same engine, but each SQLite transaction takes the write lock when it begins.

    Use it where a use case reads and then writes on what it read (check a slot, then book it):
    SQLite then runs such transactions one after the other. PostgreSQL ignores the option and
    relies on its constraints (the booking exclusion constraint) instead.
    """
    return engine.execution_options(**{WRITE_LOCK: True})


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for a read that is one statement and needs no transaction of its own: on PostgreSQL
    it runs in autocommit, sparing the BEGIN and ROLLBACK round trips (hot public reads)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed at the end of the block, or rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class AsyncReader:
    """A few PostgreSQL connections on the event loop, for the one-statement public reads that are asked
    the most (the availability query): such a read waits for the database without a worker thread, so it
    neither pays the thread-pool hop nor competes with the threads for the GIL. Under 50 concurrent
    clients that cost a third of an answer's CPU (docs/performance.md).

    Connections are opened when first needed (at most `size`), in autocommit, and closed with `close()`.
    A statement that finds its connection lost is run once more on a new one (these reads change
    nothing), so a database restart costs no answer once the server is back."""

    def __init__(self, engine: Engine, size: int = 8) -> None:
        self.dialect = engine.dialect
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # A read holds a slot while it runs. asyncio's semaphore serves waiters first come, first served:
        # a read that just arrived does not take a connection ahead of those already waiting (handing
        # back connections through a condition let newcomers jump the queue: p99 of seconds under load).
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    async def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of `sql` (compiled for psycopg: `%(name)s` parameters) with `params`."""
        async with self._slots:
            for attempt in (1, 2):
                connection = self._idle.pop() if self._idle else await self._connect()
                try:
                    cursor = await connection.execute(sql, params)
                    rows = await cursor.fetchall()
                except BaseException as error:
                    lost = connection.broken
                    await connection.close()  # whatever state it was left in, it is not used again
                    if lost and attempt == 1 and isinstance(error, psycopg.OperationalError):
                        continue
                    raise
                self._idle.append(connection)
                return rows
        raise AssertionError("unreachable")

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
