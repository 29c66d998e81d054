"""Fresh databases for tests: a SQLite file, or a new database in the machine's PostgreSQL; empty, or
at the newest revision (a copy of a migrated template)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backend.migrations import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "PILOTSHARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """Create a uniquely named database (a copy of `template`, a database name, if given), yield its URL,
    drop it afterwards."""
    name = f"pilotshare_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_driver(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    copy_of = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
    except Exception as exc:  # a missing server must fail loudly, not skip quietly
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is needed at {POSTGRES_ADMIN_URL} (set PILOTSHARE_TEST_POSTGRES_URL): {exc}",
            pytrace=False,
        )
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def terminate_backend(pid: int) -> None:
    """End one PostgreSQL backend, as a server restart would end its connection, and wait until the server
    no longer lists it."""
    admin = create_engine(_driver(POSTGRES_ADMIN_URL))
    try:
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
            while connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one():
                connection.execute(text("SELECT pg_sleep(0.01)"))
    finally:
        admin.dispose()


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / f'pilotshare-{uuid.uuid4().hex[:8]}.db'}"


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        with sqlite_database(folder) as url:
            yield url


class MigratedTemplates:
    """Databases at the newest revision, each a copy of one migrated template of its kind: running the
    migrations takes 0.5–1 s a database, a copy about 0.2 s on PostgreSQL (CREATE DATABASE ... TEMPLATE)
    and milliseconds on SQLite. The templates are made when first asked for and dropped by `close`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._templates: dict[str, str] = {}
        self._made = ExitStack()

    def _template(self, kind: str) -> str:
        if kind not in self._templates:
            url = self._made.enter_context(database(kind, self.folder))
            upgrade(url)
            self._templates[kind] = url
        return self._templates[kind]

    @contextmanager
    def database(self, kind: str, folder: Path) -> Iterator[str]:
        template = self._template(kind)
        if kind == "postgresql":
            with postgres_database(template=template.rsplit("/", 1)[1]) as url:
                yield url
            return
        with sqlite_database(folder) as url:
            source_path, target_path = (u.removeprefix("sqlite:///") for u in (template, url))
            with (
                closing(sqlite3.connect(source_path)) as source,
                closing(sqlite3.connect(target_path)) as target,
            ):
                source.backup(target)
            yield url

    def close(self) -> None:
        self._made.close()
