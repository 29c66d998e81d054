"""Two `pilotshare ingest` workers share the stream (MQTT 5 shared subscription); one is killed with SIGKILL
mid-stream and comes back, as its supervisor brings it back: every sample is in InfluxDB once, and the
twins and usage sessions are those a single worker makes of the same messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from backend.db import make_engine, unit_of_work
from backend.migrations import upgrade
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from edge_agent.protocol import telemetry_topic
from tests.support.databases import database
from tests.support.influxdb import InfluxServer
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PLATFORM = "jinan-bio"
RESOURCES = ["F5-1", "F50-1", "SD-1", "HPLC-1"]
MESSAGES_PER_RESOURCE = 60
SAMPLES_PER_MESSAGE = 20
STEP_NS = 1_000_000_000  # 1 Hz
#: a state period is 150 samples (150 s): transitions fall inside messages, as they do on real instruments
STATES = ["idle", "setup", "running", "running", "cleaning", "idle", "running", "fault", "running"]


def stream() -> list[tuple[str, bytes]]:
    """(topic, payload) in the order the agents publish them: the resources interleaved, device time
    an hour ago (nothing in the future)."""
    t0 = time.time_ns() - 3600 * 10**9
    messages = []
    for m in range(MESSAGES_PER_RESOURCE):
        for r, code in enumerate(RESOURCES):
            samples = []
            for i in range(SAMPLES_PER_MESSAGE):
                n = m * SAMPLES_PER_MESSAGE + i
                state = STATES[(n // 150 + r) % len(STATES)]
                fields = {"state": state, "temp_c": 20 + (n % 97) / 10, "n": n}
                samples.append({"ts": t0 + n * STEP_NS, "fields": fields})
            body = json.dumps({"agent": f"agent-{code}", "seq": m, "samples": samples}).encode()
            messages.append((telemetry_topic(PLATFORM, code), body))
    return messages


TOTAL = len(RESOURCES) * MESSAGES_PER_RESOURCE * SAMPLES_PER_MESSAGE


class Worker:
    """One `pilotshare ingest` process with a fixed client id (its broker session outlives it)."""

    def __init__(self, env: dict[str, str], client_id: str, logs: Path) -> None:
        self.env, self.client_id, self.logs = env, client_id, logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = self.logs / f"{self.client_id}-{self.runs}.log"
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pilotshare", "ingest", "--client-id", self.client_id],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
        )
        eventually(lambda: "ingest.subscribed" in log.read_text(), 30, f"{self.client_id} to subscribe")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> dict[str, Any]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return summary

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Site:
    """A seeded database and an InfluxDB database that ingest workers write into."""

    def __init__(self, url: str, name: str, influx: InfluxServer, broker: MosquittoBroker) -> None:
        self.url = url
        upgrade(self.url)
        engine = make_engine(Settings(database_url=self.url))
        with unit_of_work(engine) as session:
            seed_demo(session)
        engine.dispose()
        self.influx = influx
        self.db = f"{name}_{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "PILOTSHARE_DATABASE_URL": self.url,
            "PILOTSHARE_MQTT_URL": broker.url_as("ingest"),
            "PILOTSHARE_INFLUX_URL": influx.url,
            "PILOTSHARE_INFLUX_DB": self.db,
            "PILOTSHARE_INGEST_GROUP": f"{name}-{uuid.uuid4().hex[:6]}",
            "PILOTSHARE_LOG_LEVEL": "INFO",
        }
        self.workers: list[Worker] = []

    def worker(self, tmp_path: Path, client_id: str) -> Worker:
        worker = Worker(self.env, f"{client_id}-{uuid.uuid4().hex[:6]}", tmp_path)
        self.workers.append(worker)
        return worker

    def count(self) -> int:
        try:
            series = self.influx.query('SELECT count("n") FROM telemetry', self.db)
        except RuntimeError as exc:
            if "database not found" in str(exc):
                return 0
            raise
        return int(series[0]["values"][0][1]) if series else 0

    def products(self) -> dict[str, Any]:
        """What ingest made of the stream: usage sessions and twin readings, by resource code."""
        engine = make_engine(Settings(database_url=self.url))
        try:
            with engine.connect() as conn:
                sessions = conn.exec_driver_sql(
                    "SELECT r.code, s.started_at, s.ended_at, s.states, s.closed_by, s.short "
                    "FROM usage_session s JOIN resource r ON r.id = s.resource_id "
                    "ORDER BY r.code, s.started_at"
                ).all()
                twins = conn.exec_driver_sql(
                    "SELECT r.code, t.reported FROM twin t JOIN resource r ON r.id = t.resource_id"
                ).all()
        finally:
            engine.dispose()
        reported = {
            code: {
                k: (v["ns"], v["value"])
                for k, v in (rep if isinstance(rep, dict) else json.loads(rep)).items()
            }
            for code, rep in twins
            if code in RESOURCES
        }
        return {"sessions": [tuple(row) for row in sessions], "twins": reported}

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


class Agents:
    """The instruments' agents, each publishing its own resource's messages (QoS 1, waiting for PUBACK)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.clients = {code: broker.client(f"{PLATFORM}/{code}") for code in RESOURCES}

    def send(self, topic: str, body: bytes) -> None:
        self.clients[topic.split("/")[3]].publish(topic, body)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_workers_one_killed_mid_stream_store_everything_as_one_worker_would(
    kind: str, tmp_path: Path, influxdb_module: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    messages = stream()
    sites: list[Site] = []
    agents = Agents(mosquitto)
    databases = ExitStack()
    try:
        shared = Site(databases.enter_context(database(kind, tmp_path)), "shared", influxdb_module, mosquitto)
        sites.append(shared)
        a, b = shared.worker(tmp_path, "a"), shared.worker(tmp_path, "b")
        a.start()
        b.start()
        third = len(messages) // 3
        for topic, body in messages[:third]:
            agents.send(topic, body)
        eventually(lambda: shared.count() > 0, 30, "the first samples in InfluxDB")
        sending = threading.Thread(target=lambda: [agents.send(t, m) for t, m in messages[third:]])
        sending.start()  # b dies while messages keep coming, some of them given to it and not acknowledged
        b.kill()
        sending.join(120)
        eventually(lambda: shared.count() >= TOTAL * 0.5, 60, "worker a to go on with its share")
        b.start()  # its supervisor brings it back: the broker kept its session and what was routed to it
        eventually(lambda: shared.count() == TOTAL, 90, f"all {TOTAL} samples in InfluxDB")
        summaries = [a.stop(), b.stop()]
        assert all(s["bad_payloads"] == 0 and s["lines_dropped"] == 0 for s in summaries)
        assert all(s["samples"] > 0 for s in summaries)  # b's second run got what was routed to it

        single = Site(databases.enter_context(database(kind, tmp_path)), "single", influxdb_module, mosquitto)
        sites.append(single)
        alone = single.worker(tmp_path, "alone")
        alone.start()
        for topic, body in messages:
            agents.send(topic, body)
        eventually(lambda: single.count() == TOTAL, 90, f"all {TOTAL} samples from the single worker")
        alone.stop()
        got, expected = shared.products(), single.products()
    finally:
        agents.close()
        for site in sites:
            site.close()
        databases.close()

    assert len(expected["sessions"]) >= 2 * len(RESOURCES)  # the stream opens and closes sessions
    assert got["twins"] == expected["twins"]
    assert got["sessions"] == expected["sessions"]
