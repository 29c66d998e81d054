"""PostgreSQL connections are pinged before use only when they waited in the pool: a connection whose
server side went away in the meantime is replaced, not handed to a request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from backend import db
from backend.settings import Settings
from tests.support.databases import postgres_database, terminate_backend

pytestmark = pytest.mark.integration


@pytest.fixture
def engine() -> Iterator[Engine]:
    with postgres_database() as url:
        engine = db.make_engine(Settings(database_url=url, db_pool_size=1, db_max_overflow=0))
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pings the pool sends, counted."""
    sent: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return sent


def _backend_pid(engine: Engine) -> int:
    with db.reading(engine) as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(engine: Engine, pings: list[int]) -> None:
    first = _backend_pid(engine)
    assert [_backend_pid(engine) for _ in range(5)] == [first] * 5
    assert pings == []


def test_an_idle_connection_whose_server_went_away_is_replaced(
    engine: Engine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = _backend_pid(engine)
    terminate_backend(gone)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had waited in the pool for long

    replaced = _backend_pid(engine)

    assert replaced != gone
    assert pings  # the old connection's ping found it gone


def test_a_connection_lost_while_busy_fails_one_request_and_the_pool_recovers(
    engine: Engine, pings: list[int]
) -> None:
    gone = _backend_pid(engine)
    terminate_backend(gone)  # within the idle limit: handed out unpinged, as under load

    with pytest.raises(DBAPIError) as failed:
        _backend_pid(engine)

    assert failed.value.connection_invalidated
    assert _backend_pid(engine) != gone
    assert pings == []
