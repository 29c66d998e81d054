"""`pilotshare ingest` as a real process: it writes what it receives and, on SIGTERM, flushes and exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.db import make_engine, unit_of_work
from backend.migrations import upgrade
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from edge_agent.protocol import telemetry_topic
from tests.support.influxdb import InfluxServer
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration


def test_ingest_command_writes_and_stops_cleanly_on_sigterm(
    tmp_path: Path, influxdb_module: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    url = f"sqlite:///{tmp_path}/ps.db"
    upgrade(url)
    engine = make_engine(Settings(database_url=url))
    with unit_of_work(engine) as session:
        seed_demo(session)
    engine.dispose()
    db = f"cmd_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PILOTSHARE_DATABASE_URL": url,
        "PILOTSHARE_MQTT_URL": mosquitto.url_as("ingest"),
        "PILOTSHARE_INFLUX_URL": influxdb_module.url,
        "PILOTSHARE_INFLUX_DB": db,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pilotshare", "ingest", "--client-id", f"cmd-{uuid.uuid4().hex[:6]}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        t0 = datetime.now(UTC) - timedelta(minutes=1)
        samples = [
            {"ts": (t0 + timedelta(seconds=i)).isoformat(), "fields": {"temp_c": 20.5}} for i in range(50)
        ]
        pub = mqtt.Client(CallbackAPIVersion.VERSION2)
        pub.username_pw_set(*mosquitto.login("jinan-bio/F5-1"))
        pub.connect(mosquitto.host, mosquitto.port)
        pub.loop_start()
        deadline = time.monotonic() + 30
        count = 0
        while count < 50 and time.monotonic() < deadline:
            # Published until the process has subscribed; a repeat is the same points.
            body = json.dumps({"agent": "a", "seq": 1, "samples": samples})
            pub.publish(telemetry_topic("jinan-bio", "F5-1"), body, qos=1).wait_for_publish(5)
            time.sleep(0.3)
            response = httpx.get(
                f"{influxdb_module.url}/query", params={"db": db, "q": "SELECT count(temp_c) FROM telemetry"}
            )
            series = response.json()["results"][0].get("series")
            count = series[0]["values"][0][1] if series else 0
        pub.disconnect()
        pub.loop_stop()
        assert count == 50, "ingest did not write the published samples"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["samples"] >= 50 and summary["lines_dropped"] == 0 and summary["bad_payloads"] == 0
