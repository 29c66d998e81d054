"""Engine and session factories. One unit of work = one session = one transaction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

from backend.settings import Settings


def make_engine(settings: Settings) -> Engine:
    engine = _make_engine(settings)
    event.listen(engine, "commit", _count_commit)
    if not event.contains(OrmSession, "after_commit", _count_commit):
        event.listen(OrmSession, "after_commit", _count_commit)
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
    return create_engine(
        url, pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )


class _Commits:
    """Commits this process has begun or finished, counted up and never down."""

    lock = threading.Lock()
    count = 0


def _count_commit(*_: Any) -> None:
    with _Commits.lock:
        _Commits.count += 1


def commits_seen() -> int:
    """A number that changes whenever this process begins or finishes a commit (a unit of work's after
    its COMMIT returned): an answer read from the database when it was `n` is out of date once it is no
    longer `n` (backend.http.caching.RecentAnswers)."""
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
