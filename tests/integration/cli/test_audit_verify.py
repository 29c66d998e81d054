"""`pilotshare audit verify` against a real database whose audit rows someone edits with SQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from backend.db import make_engine, unit_of_work
from backend.migrations import upgrade
from backend.services.seed import seed_demo
from backend.settings import Settings

pytestmark = pytest.mark.integration


def verify(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTSHARE_")}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "audit", "verify", "--database-url", database_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def sql(database_url: str, statement: str, **params: object) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def scalar(database_url: str, statement: str) -> object:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(text(statement)).scalar_one()
    finally:
        engine.dispose()


def test_verify_passes_an_intact_chain_and_names_the_row_someone_changed_or_removed(
    database_url: str,
) -> None:
    upgrade(database_url)
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)  # publishes rate cards: each one an audit event
    engine.dispose()
    events = scalar(database_url, "SELECT count(*) FROM audit_event")
    assert isinstance(events, int) and events >= 4

    intact = verify(database_url)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith(f"audit chain intact: {events} events")
    assert len(intact.stdout.strip().splitlines()) == 1

    # The database itself refuses changes to the log ...
    with pytest.raises(DBAPIError, match="append-only"):
        sql(database_url, "UPDATE audit_event SET actor = 'user:999' WHERE seq = 3")
    # ... so a tamperer with owner rights first removes the guard.
    if database_url.startswith("postgresql"):
        sql(database_url, "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change")
    else:
        sql(database_url, "DROP TRIGGER audit_event_no_update")
        sql(database_url, "DROP TRIGGER audit_event_no_delete")

    original = scalar(database_url, "SELECT payload FROM audit_event WHERE seq = 3")
    sql(
        database_url,
        'UPDATE audit_event SET payload = replace(payload, \'"price":"\', \'"price":"1\') WHERE seq = 3',
    )
    assert scalar(database_url, "SELECT payload FROM audit_event WHERE seq = 3") != original
    changed = verify(database_url)
    assert changed.returncode == 1
    assert changed.stdout.startswith("audit chain broken at seq 3 (row seq 3): hash does not match"), (
        changed.stdout
    )

    sql(database_url, "UPDATE audit_event SET payload = :p WHERE seq = 3", p=original)
    assert verify(database_url).returncode == 0  # put back exactly, it verifies again

    sql(database_url, "DELETE FROM audit_event WHERE seq = 2")
    removed = verify(database_url)
    assert removed.returncode == 1
    assert removed.stdout.startswith("audit chain broken at seq 2 (row seq 3): expected seq 2, found 3"), (
        removed.stdout
    )

    sql(database_url, "DELETE FROM audit_event WHERE seq > 1")
    cut = verify(database_url)
    assert cut.returncode == 1
    assert cut.stdout.startswith("audit chain broken at seq 2 (missing): the chain ends at seq 1"), cut.stdout
