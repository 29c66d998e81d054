"""The dispatcher's guarantees on the stored outbox (SQLite and PostgreSQL): one send per attempt whoever
claims it, nothing claimed while the broker is away, and deadlines kept even then."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from backend.db import make_engine, unit_of_work, writer
from backend.dispatcher import Dispatcher
from backend.domain.commands import CommandAction
from backend.models.command import DeviceCommand
from backend.models.resource import Resource
from backend.services.demo.seed import seed_demo
from backend.services.devices import commands
from backend.settings import Settings
from tests.support.mosquitto import free_port

pytestmark = pytest.mark.integration
FIRST_RETRY = timedelta(seconds=10)


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(Settings(database_url=database_url))
    with unit_of_work(made) as session:
        seed_demo(session)
    yield made
    made.dispose()


def _queue(engine: Engine, code: str, expires_in: timedelta) -> str:
    with unit_of_work(engine) as session:
        resource = session.exec(select(Resource).where(Resource.code == code)).one()
        expires = datetime.now(UTC) + expires_in
        return commands.issue(session, resource, CommandAction.lock, {}, expires, user_id=1).id


def _row(engine: Engine, command_id: str) -> DeviceCommand:
    with unit_of_work(engine) as session:
        row = session.get(DeviceCommand, command_id)
        assert row is not None
        session.expunge(row)
        return row


def test_an_attempt_is_claimed_once_even_by_a_dispatcher_that_read_it_first(engine: Engine) -> None:
    command_id = _queue(engine, "TF-1", timedelta(minutes=5))
    stale = _row(engine, command_id)  # what a second dispatcher read before the first one claimed it
    now = datetime.now(UTC)
    with unit_of_work(writer(engine)) as session:
        sent = commands.claim_due(session, now, FIRST_RETRY)
    assert command_id in [item.id for item in sent]
    with unit_of_work(writer(engine)) as session:
        assert not commands._claim(session, stale, now, FIRST_RETRY)
        assert command_id not in [item.id for item in commands.claim_due(session, now, FIRST_RETRY)]
    row = _row(engine, command_id)
    assert row.state == "sent" and row.attempts == 1 and row.next_attempt_at == now + FIRST_RETRY
    later = now + FIRST_RETRY
    with unit_of_work(writer(engine)) as session:
        assert command_id in [item.id for item in commands.claim_due(session, later, FIRST_RETRY)]
    assert _row(engine, command_id).attempts == 2


def test_nothing_is_claimed_while_the_broker_is_away_but_deadlines_pass(engine: Engine) -> None:
    waiting = _queue(engine, "HPLC-1", timedelta(minutes=5))
    doomed = _queue(engine, "HPLC-2", timedelta(seconds=-1))
    dispatcher = Dispatcher(f"mqtt://127.0.0.1:{free_port()}", engine)  # never connected
    dispatcher.run_once()
    assert _row(engine, waiting).state == "pending" and _row(engine, waiting).attempts == 0
    expired = _row(engine, doomed)
    assert expired.state == "expired" and (expired.error or "").startswith("never sent before its deadline")
    assert dispatcher.stats.sent == 0 and dispatcher.stats.expired >= 1
