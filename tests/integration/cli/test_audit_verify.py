"""`pilotshare audit verify` against a real database whose audit rows someone edits with SQL."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from backend.db import make_engine, unit_of_work
from backend.services.demo.seed import seed_demo
from backend.settings import Settings

pytestmark = pytest.mark.integration


def verify(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTSHARE_")}
    return subprocess.run(
        [sys.executable, "-m", "pilotshare", "audit", "verify", "--database-url", database_url],
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


def third_party_verify(database_url: str) -> str:
    """The check of docs/audit.md written without PilotShare's code: SQL, hashlib and json only."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM audit_event ORDER BY seq")).mappings().all()
            head_seq, head_hash = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
    finally:
        engine.dispose()
    prev, expected = "0" * 64, 1
    for r in rows:
        at = r["at"] if isinstance(r["at"], datetime) else datetime.fromisoformat(r["at"])
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        data = [
            "pilotshare-audit/1",
            r["seq"],
            at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            r["actor"],
            r["action"],
            r["subject_type"],
            r["subject_id"],
            r["platform_id"],
            json.loads(r["payload"]),
            r["prev_hash"],
        ]
        encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if r["seq"] != expected or r["prev_hash"] != prev or hashlib.sha256(encoded).hexdigest() != r["hash"]:
            return f"broken at seq {expected}"
        prev, expected = r["hash"], expected + 1
    return "intact" if (expected - 1, prev) == (head_seq, head_hash) else "rows missing at the end"


def test_a_script_of_ones_own_following_docs_audit_md_verifies_the_chain(database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)
    engine.dispose()
    assert third_party_verify(database_url) == "intact"


def test_verify_passes_an_intact_chain_and_names_the_row_someone_changed_or_removed(
    database_url: str,
) -> None:
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
    assert third_party_verify(database_url) == "broken at seq 3"
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
