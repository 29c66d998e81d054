"""The availability answers an API process keeps: one read for many waiting requests, none across a commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from backend.db import commits_seen, make_engine, reading, unit_of_work
from backend.http import caching
from backend.http.caching import RecentAnswers, Tagged, tagged
from backend.settings import Settings


class Reads:
    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()

    async def __call__(self) -> Tagged:
        self.count += 1
        this = self.count
        await self.release.wait()
        return tagged(f"answer {this}".encode())


def test_requests_that_come_while_a_read_is_under_way_share_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caching, "commits_seen", lambda: 7)

    async def scenario() -> None:
        answers, reads = RecentAnswers(60), Reads()
        waiting = [asyncio.create_task(answers.answer("k", reads)) for _ in range(5)]
        await asyncio.sleep(0)  # every request has asked
        reads.release.set()
        assert {a.body for a in await asyncio.gather(*waiting)} == {b"answer 1"}
        assert (await answers.answer("k", reads)).body == b"answer 1"  # kept
        assert reads.count == 1

    asyncio.run(scenario())


def test_a_commit_while_a_read_is_under_way_makes_the_next_request_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commits = [7]
    monkeypatch.setattr(caching, "commits_seen", lambda: commits[0])

    async def scenario() -> None:
        answers, reads = RecentAnswers(60), Reads()
        before = asyncio.create_task(answers.answer("k", reads))
        await asyncio.sleep(0)
        commits[0] += 1  # a booking of this process commits while the first read is under way
        after = asyncio.create_task(answers.answer("k", reads))
        await asyncio.sleep(0)
        reads.release.set()
        assert (await before).body == b"answer 1" and (await after).body == b"answer 2"
        assert (await answers.answer("k", reads)).body == b"answer 2"
        assert reads.count == 2

    asyncio.run(scenario())


def test_only_a_transaction_that_wrote_retires_kept_answers(tmp_path: Path) -> None:
    """Reads (most requests) leave `commits_seen` alone; a commit that wrote moves it, whether it came
    through a unit of work or a Core transaction, and a rolled-back write does not."""
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'commits.db'}"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
    seen = commits_seen()
    with unit_of_work(engine) as session:
        session.execute(text("SELECT count(*) FROM note")).one()
    with reading(engine) as connection:
        connection.execute(text("SELECT 1")).one()
    with engine.begin() as connection:
        connection.execute(text("SELECT body FROM note")).all()
    assert commits_seen() == seen

    with pytest.raises(RuntimeError), unit_of_work(engine) as session:
        session.execute(text("INSERT INTO note (body) VALUES ('never')"))
        raise RuntimeError("rolled back")
    with unit_of_work(engine) as session:
        session.execute(text("SELECT 1")).one()
    assert commits_seen() == seen

    with unit_of_work(engine) as session:
        session.execute(text("INSERT INTO note (body) VALUES ('kept')"))
    after_unit = commits_seen()
    assert after_unit == seen + 2  # when its commit began, and when the unit of work saw it finished
    with engine.begin() as connection:
        connection.execute(text("UPDATE note SET body = 'changed'"))
    assert commits_seen() > after_unit
    engine.dispose()
