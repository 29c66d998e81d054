"""Nothing acknowledged is lost (docs/ingest.md, "Nothing lost"), under the broker configuration every
shipped broker runs with (backend/domain/broker.py): a simulated fleet publishes while `pilotshare ingest`
is killed and comes back a minute later, or while `influxd` is stopped and started again under a running
ingest, and every sample it published is in InfluxDB.

Mosquitto's default of 1,000 queued messages per client would have dropped most of this outage: the fleet
sends about 40 messages a second, so a minute is 2,400 of them for ingest's session to keep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from backend.db import make_engine, unit_of_work
from backend.domain.broker import AUTOSAVE_SECONDS
from backend.migrations import upgrade
from backend.services.demo.seed import seed_demo
from backend.services.telemetry import checks
from backend.settings import Settings
from edge_agent.protocol import rfc3339, telemetry_topic
from simulators.fleet import FleetOptions, run_mqtt
from simulators.platform import build_fleet
from tests.support.influxdb import InfluxServer
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PLATFORM = "jinan-bio"
DEVICES, HZ, BATCH_S = 20, 5.0, 0.5
OUTAGE_S = 60.0


class IngestProcess:
    """`pilotshare ingest` with a fixed client id, so the broker keeps its session between runs."""

    def __init__(
        self, tmp_path: Path, influx: InfluxServer, broker: MosquittoBroker, fleet_devices: int
    ) -> None:
        url = f"sqlite:///{tmp_path}/ps.db"
        upgrade(url)
        engine = make_engine(Settings(database_url=url))
        with unit_of_work(engine) as session:
            seed_demo(session, fleet_devices=fleet_devices)
        engine.dispose()
        self.influx = influx
        self.db = f"outage_{uuid.uuid4().hex[:8]}"
        self.client_id = f"ingest-{uuid.uuid4().hex[:6]}"
        self.database_url = url
        self.log_path = tmp_path / "ingest.log"
        self.env = {
            **os.environ,
            "PILOTSHARE_DATABASE_URL": url,
            "PILOTSHARE_MQTT_URL": broker.url_as("ingest"),
            "PILOTSHARE_INFLUX_URL": influx.url,
            "PILOTSHARE_INFLUX_DB": self.db,
        }
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pilotshare", "ingest", "--client-id", self.client_id],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

    def retries(self) -> int:
        """How often this test's ingest logged a failed InfluxDB write it will try again."""
        return self.log_path.read_text().count("influx.retry") if self.log_path.exists() else 0

    def subscriptions(self) -> int:
        """How often an ingest of this test had the broker grant its subscriptions (its log says so)."""
        return self.log_path.read_text().count("ingest.subscribed") if self.log_path.exists() else 0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> dict[str, Any]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return summary

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def count(self, field: str) -> int:
        try:
            series = self.influx.query(f'SELECT count("{field}") FROM telemetry', self.db)
        except RuntimeError as exc:  # ingest creates the database when it starts
            if "database not found" in str(exc):
                return 0
            raise
        return int(series[0]["values"][0][1]) if series else 0


def wait_for_probe(ingest: IngestProcess, broker: MosquittoBroker, what: str = "ingest to subscribe") -> None:
    """A probe on a resource outside the fleet, sent until ingest has written a new one: then it is
    subscribed, and has taken in what the broker held for it before the probe."""
    probe = broker.client(f"{PLATFORM}/CR-1")
    before = ingest.count("probe")
    try:

        def written() -> bool:
            body = {"agent": "probe", "seq": 0, "samples": [{"ts": rfc3339(), "fields": {"probe": 1}}]}
            probe.publish(telemetry_topic(PLATFORM, "CR-1"), json.dumps(body))
            return ingest.count("probe") > before

        eventually(written, 60, what)
    finally:
        probe.close()


def test_ingest_away_for_a_minute_loses_no_sample(
    tmp_path: Path, influxdb_module: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    devices = build_fleet(DEVICES, seed=3)
    accounts = mosquitto.fleet_credentials(PLATFORM, [d.code for d in devices])
    ingest = IngestProcess(tmp_path, influxdb_module, mosquitto, DEVICES)
    ingest.start()
    try:
        wait_for_probe(ingest, mosquitto)
        opts = FleetOptions(hz=HZ, duration=OUTAGE_S + 20, batch_seconds=BATCH_S, seed=3, progress_every=1000)
        result: dict[str, Any] = {}
        fleet = threading.Thread(
            target=lambda: result.update(
                run_mqtt(
                    devices, PLATFORM, mosquitto.url, opts, progress=lambda m: None, credentials=accounts
                ).summary()
            )
        )
        fleet.start()
        eventually(lambda: ingest.count("state") > 0, 30, "the fleet's first samples in InfluxDB")
        ingest.kill()
        killed = time.monotonic()
        # the outage itself is what is tested: ingest stays away for this long while the fleet publishes
        eventually(lambda: time.monotonic() - killed >= OUTAGE_S, OUTAGE_S + 5, "the end of the outage")
        ingest.start()
        fleet.join(120)
        assert not fleet.is_alive() and result["samples_published"] == result["samples_generated"]
        published = result["samples_published"]
        eventually(lambda: ingest.count("state") >= published, 90, f"all {published} samples in InfluxDB")
        assert ingest.count("state") == published
        summary = ingest.stop()
        assert summary["bad_payloads"] == 0 and summary["unknown_resources"] == 0
    finally:
        ingest.close()
    assert "Outgoing messages are being dropped" not in mosquitto.log()


def test_influxd_restarted_mid_stream_loses_no_sample(
    tmp_path: Path, influxdb: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    """InfluxDB goes away under a running ingest: ingest keeps what it holds unacknowledged and retries, the
    broker keeps the rest in ingest's session, and when `influxd` is back every sample gets written."""
    devices = build_fleet(DEVICES, seed=5)
    accounts = mosquitto.fleet_credentials(PLATFORM, [d.code for d in devices])
    ingest = IngestProcess(tmp_path, influxdb, mosquitto, DEVICES)
    ingest.start()
    try:
        wait_for_probe(ingest, mosquitto)
        opts = FleetOptions(hz=HZ, duration=30, batch_seconds=BATCH_S, seed=5, progress_every=1000)
        result: dict[str, Any] = {}
        fleet = threading.Thread(
            target=lambda: result.update(
                run_mqtt(
                    devices, PLATFORM, mosquitto.url, opts, progress=lambda m: None, credentials=accounts
                ).summary()
            )
        )
        fleet.start()
        eventually(lambda: ingest.count("state") > DEVICES * HZ * 3, 30, "three seconds of the stream")
        influxdb.stop()
        # the outage lasts until ingest has failed to write three times (it backs off between tries)
        eventually(lambda: ingest.retries() >= 3, 60, "ingest retrying its writes")
        influxdb.start()
        fleet.join(120)
        assert not fleet.is_alive() and result["samples_published"] == result["samples_generated"]
        published = result["samples_published"]
        eventually(lambda: ingest.count("state") >= published, 90, f"all {published} samples in InfluxDB")
        assert ingest.count("state") == published
        summary = ingest.stop()
        assert summary["bad_payloads"] == 0 and summary["unknown_resources"] == 0
    finally:
        ingest.close()
    assert "Outgoing messages are being dropped" not in mosquitto.log()


def test_a_broker_killed_mid_stream_loses_seconds_at_most_and_ingest_reports_them(
    tmp_path: Path, influxdb_module: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    """At most what the broker acknowledged since its last save, and what the agents publish after it is
    back until ingest has subscribed again, is lost; every lost message is a hole in its agent's message
    numbers that ingest counts (pilotshare_telemetry_missing_messages)."""
    devices = build_fleet(DEVICES, seed=4)
    accounts = mosquitto.fleet_credentials(PLATFORM, [d.code for d in devices])
    ingest = IngestProcess(tmp_path, influxdb_module, mosquitto, DEVICES)
    ingest.start()
    try:
        wait_for_probe(ingest, mosquitto)
        opts = FleetOptions(hz=HZ, duration=30, batch_seconds=BATCH_S, seed=4, progress_every=1000)
        result: dict[str, Any] = {}
        fleet = threading.Thread(
            target=lambda: result.update(
                run_mqtt(
                    devices, PLATFORM, mosquitto.url, opts, progress=lambda m: None, credentials=accounts
                ).summary()
            )
        )
        fleet.start()
        eventually(lambda: ingest.count("state") > DEVICES * HZ * 5, 30, "five seconds of the stream")
        # ingest goes away, so the broker holds what it acknowledged for it; then the broker dies
        ingest.kill()
        killed = time.monotonic()
        eventually(lambda: time.monotonic() - killed >= 5, 10, "messages queued for ingest")
        mosquitto.crash()
        subscribed = ingest.subscriptions()
        back = time.monotonic()
        mosquitto.start()
        ingest.start()
        eventually(lambda: ingest.subscriptions() > subscribed, 60, "ingest subscribed again")
        resubscribed_s = time.monotonic() - back
        fleet.join(120)
        assert not fleet.is_alive()
        wait_for_probe(ingest, mosquitto, "ingest to take in what the broker kept")
        published = result["samples_published"]
        lost = published - ingest.count("state")
        summary = ingest.stop()
    finally:
        ingest.close()
    # what docs/ingest.md promises: no more than the traffic since the broker's last save (it saves every
    # one to two seconds) and until ingest has subscribed again after the restart (here a new process,
    # so the wait includes its start-up; a running ingest reconnects within RECONNECT_MAX_S)
    per_second = DEVICES * HZ
    window = 2 * AUTOSAVE_SECONDS + 2 + resubscribed_s
    assert 0 <= lost <= per_second * window, f"{lost} samples lost, more than {window:.1f} s of traffic"
    engine = make_engine(Settings(database_url=ingest.database_url))
    with unit_of_work(engine) as session:
        missing = int(checks.totals(session)["missing_messages"])
    engine.dispose()
    # every lost message is a hole ingest counted; a message holds a sample or more
    assert (missing == 0) == (lost == 0) and missing <= lost, (
        f"{lost} samples lost, {missing} messages missing"
    )
    assert summary["bad_payloads"] == 0
