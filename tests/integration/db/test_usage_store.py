"""The SQL side of usage sessions agrees with the pure rules: any stream of state samples, in any order,
cut into any batches and partly delivered again, leaves the same sessions in SQLite and PostgreSQL as the
in-memory store does (tests/unit/backend/test_usage_rules.py checks the rules themselves)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from backend.db import make_engine, unit_of_work, writer
from backend.domain.usage import STATES, Observation, Span, SpanList, UsageRules, in_device_order, track
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.usage import UsageCursor, UsageSession
from backend.services.demo.seed import seed_demo
from backend.services.telemetry import usage
from backend.settings import Settings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, tzinfo=UTC)
RULES = UsageRules(min_seconds=60)


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)
    yield engine
    engine.dispose()


def new_resource(engine: Engine) -> int:
    with unit_of_work(engine) as session:
        platform = session.exec(select(Platform)).first()
        assert platform is not None and platform.id is not None
        resource = Resource(
            platform_id=platform.id, code=f"U-{uuid.uuid4().hex[:10]}", kind="instrument", name="u"
        )
        session.add(resource)
        session.flush()
        assert resource.id is not None
        return resource.id


@st.composite
def deliveries(draw: st.DrawFn) -> list[list[Observation | None]]:
    """Batches as ingest might receive them: samples out of order, Last Wills, repeats of earlier batches."""
    steps = draw(st.lists(st.tuples(st.integers(1, 150), st.sampled_from([*STATES, "offline"])), max_size=30))
    items: list[Observation | None] = []
    at = 0
    for step, what in steps:
        at += step
        items.append(None if what == "offline" else Observation(T0 + timedelta(seconds=at), what))
    order = draw(st.permutations(range(len(items))))
    shuffled = [items[i] for i in order] if draw(st.booleans()) else items
    cuts = sorted(set(draw(st.lists(st.integers(0, len(items)), max_size=5))) | {0, len(items)})
    batches = [shuffled[a:b] for a, b in itertools.pairwise(cuts) if b > a]
    for _ in range(draw(st.integers(0, 2))):
        if batches:
            batches.append(draw(st.sampled_from(batches)))
    return batches


def in_memory(batches: list[list[Observation | None]]) -> list[tuple[Any, ...]]:
    store = SpanList()
    cursor: datetime | None = None
    open_span: Span | None = None
    for batch in batches:
        tracker = track(in_device_order(batch), RULES, store, cursor, open_span)
        cursor, open_span = tracker.cursor, tracker.open
    return [
        (s.start, s.end, s.last_seen, sorted(s.states), s.closed_by, s.is_short(RULES))
        for s in store.sorted()
    ]


def stored(engine: Engine, rid: int) -> list[tuple[Any, ...]]:
    with unit_of_work(engine) as session:
        rows = session.exec(
            select(UsageSession).where(UsageSession.resource_id == rid).order_by(col(UsageSession.started_at))
        ).all()
        cursor = session.get(UsageCursor, rid)
        open_ids = [r.id for r in rows if r.ended_at is None]
        assert (cursor.open_session_id if cursor else None) == (open_ids[0] if open_ids else None)
        return [(r.started_at, r.ended_at, r.last_seen_at, r.states, r.closed_by, r.short) for r in rows]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries())
def test_sessions_in_the_database_match_the_rules(
    engine: Engine, batches: list[list[Observation | None]]
) -> None:
    rid = new_resource(engine)
    for batch in batches:
        with unit_of_work(writer(engine)) as session:
            usage.record(session, {rid: batch}, RULES)
    assert stored(engine, rid) == in_memory(batches)
