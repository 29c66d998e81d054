"""Usage sessions from real MQTT traffic: a state sequence published to Mosquitto becomes the right
sessions, matched to the booking they fall in; re-delivered messages (published again, or sent again by
the broker after an ingest died before acknowledging) add nothing; a Last Will closes the open session at
the last sample seen."""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from backend.adapters.influx import InfluxClient, InfluxWriter
from backend.db import unit_of_work
from backend.domain.telemetry_checks import ns_to_datetime
from backend.ingest.service import Ingest
from backend.models.booking import Booking
from backend.models.resource import Resource
from backend.models.usage import UsageCursor, UsageSession
from backend.models.user import User
from backend.services.telemetry import usage_reading
from edge_agent.protocol import LAST_WILL, status_topic, telemetry_topic
from tests.support.influxdb import InfluxServer
from tests.support.ingest import IngestSite
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
PLATFORM = "jinan-bio"
T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def telemetry(seq: int, samples: list[tuple[float, str]]) -> bytes:
    body = {
        "agent": "usage-test",
        "seq": seq,
        "samples": [
            {"ts": at(s).isoformat(), "fields": {"state": state, "temp_c": 30.0}} for s, state in samples
        ],
    }
    return json.dumps(body).encode()


def every(start: float, end: float, state: str, step: float = 30) -> list[tuple[float, str]]:
    out, s = [], start
    while s <= end:
        out.append((s, state))
        s += step
    return out


class Publisher:
    """Publishes each message as the agent that owns its topic (the broker allows nobody else)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.broker = broker
        self.clients: dict[tuple[str, str], mqtt.Client] = {}

    def send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        login = self.broker.login_for(topic)
        client = self.clients.get(login)
        if client is None:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"usage-pub-{uuid.uuid4().hex[:6]}")
            client.username_pw_set(*login)
            client.connect(self.broker.host, self.broker.port)
            client.loop_start()
            self.clients[login] = client
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()


def resource_id(engine: Engine, code: str) -> int:
    with unit_of_work(engine) as session:
        rid = session.exec(select(Resource.id).where(Resource.code == code)).one()
    assert rid is not None
    return rid


def rows(engine: Engine, rid: int) -> list[tuple[Any, ...]]:
    with unit_of_work(engine) as session:
        found = session.exec(
            select(UsageSession).where(UsageSession.resource_id == rid).order_by(col(UsageSession.started_at))
        ).all()
        return [
            (
                r.id,
                r.started_at,
                r.ended_at,
                r.last_seen_at,
                tuple(r.states),
                r.source,
                r.closed_by,
                r.short,
                r.booking_id,
                r.organization_id,
            )
            for r in found
        ]


def cursor_at(engine: Engine, rid: int) -> datetime | None:
    with unit_of_work(engine) as session:
        cursor = session.get(UsageCursor, rid)
        return None if cursor is None or not cursor.state_ns else ns_to_datetime(cursor.state_ns)


@dataclass
class Stack:
    engine: Engine
    ingest: Ingest
    broker: MosquittoBroker
    sme_org: int
    sme_user: int


@pytest.fixture(scope="module")
def stack(ingest_site: IngestSite) -> Stack:
    with unit_of_work(ingest_site.engine) as session:
        sme = session.exec(select(User).where(User.email == ingest_site.logins["sme"].email)).one()
        sme_org, sme_user = sme.organization_id, sme.id
    assert sme_org is not None and sme_user is not None
    return Stack(ingest_site.engine, ingest_site.ingest, ingest_site.broker, sme_org, sme_user)


def test_a_state_sequence_becomes_sessions_matched_to_their_booking(stack: Stack) -> None:
    rid = resource_id(stack.engine, "F50-1")
    with unit_of_work(stack.engine) as session:
        resource = session.get(Resource, rid)
        assert resource is not None
        booking = Booking(
            platform_id=resource.platform_id,
            resource_id=rid,
            organization_id=stack.sme_org,
            user_id=stack.sme_user,
            status="completed",
            starts_at=at(2900),
            ends_at=at(4800),
            purpose="usage test",
        )
        session.add(booking)
        session.flush()
        booking_id = booking.id
    topic = telemetry_topic(PLATFORM, "F50-1")
    pub = Publisher(stack.broker)
    try:
        pub.send(topic, telemetry(1, [(0, "idle"), (30, "idle")]))
        pub.send(topic, telemetry(2, [(60, "setup"), *every(90, 1200, "running")]))
        pub.send(topic, telemetry(3, [(1230, "cleaning"), (1500, "idle")]))
        # Samples of one message out of device order: ingest sorts them.
        pub.send(topic, telemetry(4, list(reversed([*every(3000, 4500, "running"), (4530, "idle")]))))
        pub.send(topic, telemetry(5, [(6000, "running"), (6020, "idle")]))  # a 20 s flicker
        pub.send(topic, telemetry(6, every(7000, 7300, "running")))
        eventually(lambda: cursor_at(stack.engine, rid) == at(7300), what="the last sample processed")
        pub.send(status_topic(PLATFORM, "F50-1"), LAST_WILL, retain=True)
        eventually(lambda: rows(stack.engine, rid)[-1][6] == "offline", what="the Last Will")
    finally:
        pub.close()

    stored = rows(stack.engine, rid)
    assert [(r[1], r[2], r[6], r[7]) for r in stored] == [
        (at(60), at(1500), "state", False),
        (at(3000), at(4530), "state", False),
        (at(6000), at(6020), "state", True),
        (at(7000), at(7300), "offline", False),  # closed at the last sample seen
    ]
    assert stored[0][4] == ("cleaning", "running", "setup")
    assert [(r[8], r[9]) for r in stored] == [
        (None, None),
        (booking_id, stack.sme_org),
        (None, None),
        (None, None),
    ]
    with unit_of_work(stack.engine) as session:
        counted = usage_reading.sessions(session, start=at(0), end=at(7200), resource_id=rid)
        figures = usage_reading.booking_usage(session, session.get(Booking, booking_id), now=at(99_999))  # type: ignore[arg-type]
    assert [(s.start, s.end, s.minutes) for s in counted] == [
        (at(60), at(1500), 24.0),
        (at(3000), at(4530), 25.5),
        (at(7000), at(7200), 3.333),  # clipped to the period asked for
    ]
    assert figures.booked_minutes == 31.667 and figures.used_minutes == 25.5
    assert figures.late_start_minutes == 1.667 and figures.overrun_minutes == 0
    assert not figures.no_show and [s.id for s in figures.sessions] == [stored[1][0]]


def test_messages_delivered_again_add_no_session(stack: Stack) -> None:
    rid = resource_id(stack.engine, "F50-2")
    topic = telemetry_topic(PLATFORM, "F50-2")
    messages = [
        telemetry(1, [(0, "idle"), (60, "running"), (90, "running")]),
        telemetry(2, every(120, 900, "running")),
        telemetry(3, [(930, "cleaning"), (1200, "idle"), (1260, "idle")]),
        telemetry(4, every(2010, 2400, "running")),
    ]
    pub = Publisher(stack.broker)
    try:
        for message in messages:
            pub.send(topic, message)
        eventually(lambda: cursor_at(stack.engine, rid) == at(2400), what="the first delivery")
        first = rows(stack.engine, rid)
        assert [(r[1], r[2]) for r in first] == [(at(60), at(1200)), (at(2010), None)]
        for message in [*messages, *reversed(messages)]:  # again, in order and backwards
            pub.send(topic, message)
        # Batches are handled in order: once this newer sample is stored, so are the replays before it.
        pub.send(topic, telemetry(5, [(2430, "running")]))
        eventually(lambda: cursor_at(stack.engine, rid) == at(2430), what="the replays")
    finally:
        pub.close()
    again = rows(stack.engine, rid)
    assert again[0] == first[0]
    assert again[1][:3] == first[1][:3] and again[1][3] == at(2430)  # only the open one saw a new sample


def test_a_birth_reporting_a_work_state_opens_the_session(stack: Stack) -> None:
    rid = resource_id(stack.engine, "HPLC-1")
    birth = {
        "state": "online",
        "agent": "usage-test",
        "since": at(20_000).isoformat(),
        "fields": {"state": "setup"},
    }
    pub = Publisher(stack.broker)
    try:
        pub.send(status_topic(PLATFORM, "HPLC-1"), json.dumps(birth).encode(), retain=True)
        pub.send(
            telemetry_topic(PLATFORM, "HPLC-1"),
            telemetry(1, [*every(20_030, 20_300, "running"), (20_400, "idle")]),
        )
        eventually(lambda: cursor_at(stack.engine, rid) == at(20_400), what="the samples after the birth")
    finally:
        pub.close()
    assert [(r[1], r[2], r[4], r[5]) for r in rows(stack.engine, rid)] == [
        (at(20_000), at(20_400), ("running", "setup"), "status")
    ]


def _count(server: InfluxServer, db: str) -> int:
    series = server.query("SELECT count(temp_c) FROM telemetry", db)
    return int(series[0]["values"][0][1]) if series else 0


def test_a_batch_the_broker_sends_again_after_an_ingest_died_adds_no_session(
    stack: Stack, influxdb_module: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    """The first ingest commits the sessions but cannot write to InfluxDB, so it acknowledges nothing and
    dies; the broker sends everything again to the next ingest (same client id)."""
    rid = resource_id(stack.engine, "SD-1")
    db = f"usage_alo_{uuid.uuid4().hex[:8]}"
    client_id = f"ingest-{uuid.uuid4().hex[:6]}"
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    dead = InfluxClient(f"http://127.0.0.1:{blocker.getsockname()[1]}", db, timeout=0.5)
    ingest_url = mosquitto.url_as("ingest")
    first = Ingest(ingest_url, stack.engine, InfluxWriter(dead, backoff_max=0.2), client_id=client_id)
    first.start()
    assert first.wait_connected(10)
    topic = telemetry_topic(PLATFORM, "SD-1")
    messages = [
        telemetry(1, every(10_000, 10_600, "running")),
        telemetry(2, [(10_630, "cleaning"), (10_900, "idle")]),
        telemetry(3, every(11_500, 11_800, "setup")),
    ]
    samples = sum(len(json.loads(m)["samples"]) for m in messages)
    pub = Publisher(mosquitto)
    second: Ingest | None = None
    live = InfluxClient(influxdb_module.url, db)
    try:
        for message in messages:
            pub.send(topic, message)
        eventually(lambda: cursor_at(stack.engine, rid) == at(11_800), what="the first ingest's commit")
        committed = rows(stack.engine, rid)
        assert [(r[1], r[2]) for r in committed] == [(at(10_000), at(10_900)), (at(11_500), None)]

        first._stopping.set()  # dies without acknowledging or disconnecting
        first.influx.stop(timeout=0)
        first.client.loop_stop()
        sock = first.client.socket()
        assert sock is not None
        sock.close()

        live.ensure_database()
        second = Ingest(ingest_url, stack.engine, InfluxWriter(live, flush_seconds=0.05), client_id=client_id)
        second.start()
        eventually(lambda: _count(influxdb_module, db) == samples, timeout=30, what="the redelivery")
        assert second.stats.messages >= len(messages)
    finally:
        if second is not None:
            second.stop()
        pub.close()
        live.close()
        blocker.close()
    assert rows(stack.engine, rid) == committed
