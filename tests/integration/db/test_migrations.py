"""Migrations build the schema from an empty database, and go down and up again, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import backend.models  # noqa: F401  (fills the metadata)
from backend.migrations import downgrade, upgrade

pytestmark = pytest.mark.integration


def _tables(url: str) -> set[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_table_and_downgrade_removes_them(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()
    upgrade(empty_database_url)
    assert _tables(empty_database_url) == set(SQLModel.metadata.tables)
    downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == set()
    upgrade(empty_database_url)
    assert _tables(empty_database_url) == set(SQLModel.metadata.tables)


def test_migrations_match_the_models(empty_database_url: str) -> None:
    """A model change without a migration shows up here as a non-empty autogenerate diff."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(empty_database_url)
    engine = create_engine(empty_database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []
