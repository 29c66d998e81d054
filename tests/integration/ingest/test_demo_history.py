"""The demo's past through the real path: `pilotshare seed demo --history` makes eight weeks of bookings,
`pilotshare simulate-history` replays the instruments' runs through an authenticated broker, a real
`pilotshare ingest` stores them in InfluxDB and measures use, and last month is invoiced afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from backend.db import make_engine, unit_of_work, writer
from backend.migrations import upgrade
from backend.models.booking import Booking
from backend.services.demo.history import SOURCE, measured_runs, settle_last_month
from backend.services.telemetry.usage_reading import booking_usage
from backend.settings import Settings
from edge_agent.protocol import rfc3339, telemetry_topic
from tests.support.influxdb import InfluxServer
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pilotshare", *args], env=env, capture_output=True, text=True, timeout=180
    )


def test_history_is_replayed_measured_and_invoiced(
    tmp_path: Path, influxdb: InfluxServer, mosquitto: MosquittoBroker
) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTSHARE_")}
    env |= {
        "PILOTSHARE_DATABASE_URL": url,
        "PILOTSHARE_INFLUX_URL": influxdb.url,
        "PILOTSHARE_LOG_LEVEL": "WARNING",
    }
    plan_path = tmp_path / "history.json"
    seeded = run("seed", "demo", "--history", str(plan_path), env=env)
    assert seeded.returncode == 0, seeded.stderr
    runs = json.loads(plan_path.read_text())["runs"]
    assert len(runs) >= 20 and {r["resource"] for r in runs} >= {"F5-1", "F50-1", "HPLC-1"}
    mosquitto.add_agents(sorted({f"{r['platform']}/{r['resource']}" for r in runs} | {"jinan-bio/CR-1"}))

    ingest = subprocess.Popen(
        [sys.executable, "-m", "pilotshare", "ingest", "--client-id", "history-ingest"],
        env={**env, "PILOTSHARE_MQTT_URL": mosquitto.url_as("ingest")},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    engine = make_engine(Settings(database_url=url))
    try:
        wait_for_ingest(influxdb, mosquitto)
        replayed = run(
            "simulate-history",
            "--plan",
            str(plan_path),
            "--mqtt-url",
            mosquitto.url,
            "--credentials",
            str(mosquitto.credentials_path),
            env=env,
        )
        assert replayed.returncode == 0, replayed.stderr
        published = json.loads(replayed.stdout.strip().splitlines()[-1])
        assert published["runs"] == len(runs) and published["samples_published"] > 10 * len(runs)

        def all_measured() -> int | None:
            with unit_of_work(engine) as session:
                measured = measured_runs(session)
            return measured if measured == len(runs) else None

        eventually(all_measured, 120, "every past run to be measured")
        with unit_of_work(engine) as session:
            first = session.exec(select(Booking).where(Booking.id == runs[0]["booking_id"])).one()
            figures = booking_usage(session, first)
            assert first.source == SOURCE and figures.used_minutes > 0
        # a sample per device timestamp (the idle sample before a run may share its instant with one of an
        # earlier run on that instrument, and InfluxDB keeps one point per series and time)
        eventually(
            lambda: _count(influxdb, "state") >= published["samples_published"] - len(runs), 60, "all points"
        )
        with unit_of_work(writer(engine)) as session:
            assert settle_last_month(session) > 0
        with unit_of_work(writer(engine)) as session:
            assert settle_last_month(session) == 0  # settled once
    finally:
        ingest.terminate()
        ingest.wait(60)
        engine.dispose()


def _count(influxdb: InfluxServer, field: str) -> int:
    try:
        series = influxdb.query(f'SELECT count("{field}") FROM telemetry', "pilotshare")
    except RuntimeError as exc:
        if "database not found" in str(exc):
            return 0
        raise
    return int(series[0]["values"][0][1]) if series else 0


def wait_for_ingest(influxdb: InfluxServer, mosquitto: MosquittoBroker) -> None:
    """A probe on a resource without history, sent until ingest has stored it: then it is subscribed and
    a replay published now cannot be lost."""
    probe = mosquitto.client("jinan-bio/CR-1")
    try:

        def stored() -> bool:
            body = {"agent": "probe", "seq": 0, "samples": [{"ts": rfc3339(), "fields": {"probe": 1}}]}
            probe.publish(telemetry_topic("jinan-bio", "CR-1"), json.dumps(body))
            return _count(influxdb, "probe") > 0

        eventually(stored, 60, "ingest to subscribe")
    finally:
        probe.close()
