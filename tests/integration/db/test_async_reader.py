"""The event loop's PostgreSQL reads (backend.db.AsyncReader): at most `size` connections, shared by
waiting reads; a connection lost while it waited in the reader is replaced without failing the read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from backend.db import AsyncReader
from tests.support.databases import postgres_database, terminate_backend

pytestmark = pytest.mark.integration

PID = "SELECT pg_backend_pid()"


@pytest.fixture
def engine() -> Iterator[Engine]:
    with postgres_database() as url:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            yield engine
        finally:
            engine.dispose()


def test_reads_share_at_most_size_connections(engine: Engine) -> None:
    async def scenario() -> set[int]:
        reader = AsyncReader(engine, size=2)
        try:
            rows = await asyncio.gather(
                *(reader.rows("SELECT pg_backend_pid(), pg_sleep(0.05)", {}) for _ in range(6))
            )
            return {row[0][0] for row in rows}
        finally:
            await reader.close()

    assert len(asyncio.run(scenario())) == 2


def test_a_connection_lost_while_idle_is_replaced_and_the_read_answers(engine: Engine) -> None:
    async def scenario() -> tuple[int, int]:
        reader = AsyncReader(engine, size=1)
        try:
            [(first,)] = await reader.rows(PID, {})
            await asyncio.to_thread(terminate_backend, first)
            [(second,)] = await reader.rows(PID, {})
            return first, second
        finally:
            await reader.close()

    first, second = asyncio.run(scenario())
    assert first != second


def test_a_failing_statement_is_refused_and_its_connection_not_reused(engine: Engine) -> None:
    async def scenario() -> tuple[int, int]:
        reader = AsyncReader(engine, size=1)
        try:
            [(first,)] = await reader.rows(PID, {})
            with pytest.raises(Exception, match="division by zero"):
                await reader.rows("SELECT 1 / 0", {})
            [(second,)] = await reader.rows(PID, {})
            return first, second
        finally:
            await reader.close()

    first, second = asyncio.run(scenario())
    assert first != second
