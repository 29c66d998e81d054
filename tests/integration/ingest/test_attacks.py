"""The attacks issue 11 found, each replayed against the real stack (Mosquitto started from the generated
files, ingest, the database): none of them changes a figure any more.

- a series stamped next week: refused and counted; the usage cursor does not move, so a real 20-minute
  run afterwards is one 20-minute session, not twenty zero-length ones;
- a series inside a month already invoiced: quarantined for review, counted in that month's report;
- forged use, a fake alarm and a fake retained birth from someone else's account (or none): the broker
  drops them, nothing reaches ingest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from backend.db import unit_of_work
from backend.ingest.service import Ingest
from backend.models.billing import Invoice
from backend.models.organization import Organization, OrgKind
from backend.models.resource import Resource
from backend.models.telemetry_checks import QuarantinedTelemetry
from backend.models.twin import Alarm, Twin
from backend.models.usage import UsageCursor, UsageSession
from backend.services.compliance.reports import sharing
from backend.services.telemetry import checks
from edge_agent.protocol import event_topic, status_topic, telemetry_topic
from tests.support.ingest import IngestSite
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
PLATFORM = "jinan-bio"


@dataclass
class Stack:
    engine: Engine
    ingest: Ingest
    broker: MosquittoBroker

    def resource(self, code: str) -> int:
        with unit_of_work(self.engine) as session:
            rid = session.exec(select(Resource.id).where(Resource.code == code)).one()
            assert rid is not None
            return rid

    def sessions(self, code: str) -> list[UsageSession]:
        with unit_of_work(self.engine) as session:
            rows = session.exec(
                select(UsageSession)
                .where(UsageSession.resource_id == self.resource(code))
                .order_by(col(UsageSession.started_at))
            ).all()
            session.expunge_all()
            return list(rows)

    def quarantined(self) -> list[QuarantinedTelemetry]:
        with unit_of_work(self.engine) as session:
            rows = session.exec(select(QuarantinedTelemetry)).all()
            session.expunge_all()
            return list(rows)

    def cursor_ns(self, code: str) -> int | None:
        with unit_of_work(self.engine) as session:
            cursor = session.get(UsageCursor, self.resource(code))
            return None if cursor is None else cursor.state_ns


@pytest.fixture(scope="module")
def ingest_options() -> dict[str, Any]:
    return {"settled_refresh_s": 0}  # see an invoice at once


@pytest.fixture(scope="module")
def stack(ingest_site: IngestSite) -> Stack:
    return Stack(ingest_site.engine, ingest_site.ingest, ingest_site.broker)


def series(agent: str, seq: int, start: datetime, minutes: int, state: str = "running") -> bytes:
    samples = [
        {"ts": (start + timedelta(minutes=m)).isoformat(), "fields": {"state": state}} for m in range(minutes)
    ]
    return json.dumps({"agent": agent, "seq": seq, "samples": samples}).encode()


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 10**9


def test_a_future_dated_series_is_refused_and_moves_no_cursor(stack: Stack) -> None:
    agent = stack.broker.client(f"{PLATFORM}/F5-2")
    topic = telemetry_topic(PLATFORM, "F5-2")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    next_week = now + timedelta(days=7)
    agent.publish(topic, series("edge-F5-2", 1, next_week, 60))
    eventually(lambda: stack.ingest.stats.refused_future >= 60, 10, "the future samples refused")
    assert stack.sessions("F5-2") == [] and stack.cursor_ns("F5-2") is None

    # a real 20-minute run at one sample a minute, then idle
    start = now - timedelta(minutes=30)
    run = json.loads(series("edge-F5-2", 2, start, 20))
    run["samples"].append({"ts": (start + timedelta(minutes=20)).isoformat(), "fields": {"state": "idle"}})
    agent.publish(topic, json.dumps(run))
    end = start + timedelta(minutes=20)
    eventually(lambda: stack.cursor_ns("F5-2") == ns(end), 10, "the real run processed")
    [used] = stack.sessions("F5-2")
    assert (used.started_at, used.ended_at, used.short) == (start, end, False)
    assert used.agents == ["edge-F5-2"]  # the session names the agent whose data produced it
    with unit_of_work(stack.engine) as session:
        held = checks.refusals_between(
            session, next_week - timedelta(hours=1), next_week + timedelta(hours=2)
        )
    assert held["samples_refused_future"] == 60


def test_a_series_inside_an_invoiced_month_is_quarantined_not_counted(stack: Stack) -> None:
    october = date(2026, 10, 1)
    with unit_of_work(stack.engine) as session:
        platform_id = session.exec(select(Resource.platform_id).where(Resource.code == "HPLC-2")).one()
        sme = session.exec(select(Organization.id).where(Organization.kind == OrgKind.sme)).first()
        assert sme is not None
        session.add(
            Invoice(
                number=f"T-{uuid.uuid4().hex[:6]}",
                platform_id=platform_id,
                organization_id=sme,
                month=october,
                subtotal=Decimal(0),
                subsidy=Decimal(0),
                amount_due=Decimal(0),
            )
        )
    forged = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)  # 10:00 in Jinan
    agent = stack.broker.client(f"{PLATFORM}/HPLC-2")
    agent.publish(telemetry_topic(PLATFORM, "HPLC-2"), series("edge-HPLC-2", 1, forged, 180))
    eventually(lambda: stack.ingest.stats.quarantined >= 180, 10, "the samples quarantined")
    # ingest counts the samples before its transaction commits them: wait for the row itself
    [held] = eventually(stack.quarantined, 10, "the quarantined message stored")
    assert (held.agent, len(held.samples), held.reviewed_at) == ("edge-HPLC-2", 180, None)
    assert stack.sessions("HPLC-2") == []
    report = sharing(stack.engine, None, october, date(2026, 10, 31), PLATFORM)
    [platform] = report["platforms"]
    assert platform["effective_hours"] == 0
    assert platform["telemetry_held_back"] == {
        "samples_refused_future": 0,
        "samples_quarantined": 180,
        "quarantined_messages_to_review": 1,
    }


def test_strangers_cannot_forge_use_alarms_or_births(stack: Stack) -> None:
    victim = "F500-1"
    assert not stack.broker.can_connect(None, None)  # the anonymous attacker of the issue gets nowhere
    stranger = stack.broker.client(f"{PLATFORM}/F50-2")  # a real agent, of another instrument
    ten_hours_ago = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=10)
    stranger.publish(telemetry_topic(PLATFORM, victim), series("forger", 1, ten_hours_ago, 600))
    alarm = {"ts": datetime.now(UTC).isoformat(), "kind": "alarm", "code": "FIRE", "severity": "critical"}
    stranger.publish(event_topic(PLATFORM, victim), json.dumps(alarm))
    birth = {
        "state": "online",
        "agent": "forger",
        "since": ten_hours_ago.isoformat(),
        "fields": {"state": "running"},
    }
    stranger.publish(status_topic(PLATFORM, victim), json.dumps(birth), retain=True)

    # the instrument's own agent speaks after them: once ingest has its message, theirs would be in too
    own = stack.broker.client(f"{PLATFORM}/{victim}")
    idle_at = datetime.now(UTC).replace(microsecond=0)
    own.publish(telemetry_topic(PLATFORM, victim), series("edge-F500-1", 1, idle_at, 1, "idle"))
    eventually(lambda: stack.cursor_ns(victim) == ns(idle_at), 10, "the real agent's message")
    rid = stack.resource(victim)
    assert stack.sessions(victim) == []
    with unit_of_work(stack.engine) as session:
        assert session.exec(select(Alarm).where(Alarm.resource_id == rid)).all() == []
        twin = session.get(Twin, rid)
        assert twin is None or twin.connection_state != "online"
