"""At least once: what ingest received but could not write is not acknowledged, so the broker sends it
again to the next ingest process, which writes it (once)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.adapters.influx import InfluxClient, InfluxWriter
from backend.db import make_engine, unit_of_work
from backend.ingest.service import Ingest
from backend.migrations import upgrade
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from edge_agent.protocol import telemetry_topic
from tests.support.influxdb import InfluxServer
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
#: an hour ago: ingest refuses samples stamped in the future
BASE_NS = time.time_ns() - 3600 * 10**9


def _count(server: InfluxServer, db: str) -> int:
    series = server.query("SELECT count(v) FROM telemetry", db)
    return int(series[0]["values"][0][1]) if series else 0


def test_messages_not_written_before_a_crash_are_written_by_the_next_ingest(
    tmp_path: Path, influxdb_module: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    url = f"sqlite:///{tmp_path}/ps.db"
    upgrade(url)
    engine = make_engine(Settings(database_url=url))
    with unit_of_work(engine) as session:
        seed_demo(session)
    db = f"alo_{uuid.uuid4().hex[:8]}"
    client_id = f"ingest-{uuid.uuid4().hex[:6]}"

    # First ingest: InfluxDB unreachable, so it retries and acknowledges nothing. The port stays bound
    # (never listening) for the whole test, so no server started meanwhile can answer on it.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    dead = InfluxClient(f"http://127.0.0.1:{blocker.getsockname()[1]}", db, timeout=0.5)
    ingest_url = mosquitto.url_as("ingest")
    first = Ingest(ingest_url, engine, InfluxWriter(dead, backoff_max=0.2), client_id=client_id)
    first.start()
    assert first.wait_connected(10)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2)
    pub.username_pw_set(*mosquitto.login("jinan-bio/F5-1"))
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    for i in range(100):
        body = {
            "agent": "a",
            "seq": i,
            "samples": [{"ts": BASE_NS + i, "fields": {"v": 1.0}}],
        }
        pub.publish(telemetry_topic("jinan-bio", "F5-1"), json.dumps(body), qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 10
    while first.stats.messages == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.stats.messages > 0

    # It dies without a word: no flush, no acknowledgement, no DISCONNECT.
    first._stopping.set()
    first.influx.stop(timeout=0)
    first.client.loop_stop()
    sock = first.client.socket()
    assert sock is not None
    sock.close()

    live = InfluxClient(influxdb_module.url, db)
    live.ensure_database()
    second = Ingest(ingest_url, engine, InfluxWriter(live, flush_seconds=0.05), client_id=client_id)
    second.start()
    try:
        deadline = time.monotonic() + 30
        while _count(influxdb_module, db) < 100 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _count(influxdb_module, db) == 100
    finally:
        second.stop()
        pub.disconnect()
        pub.loop_stop()
        live.close()
        engine.dispose()
        blocker.close()
