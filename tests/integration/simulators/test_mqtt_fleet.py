"""The fleet over a real Mosquitto: contract payloads, retained birth, Last Will, commands with acks."""

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

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import protocol
from simulators.fleet import FleetOptions, run_mqtt
from simulators.platform import build_fleet
from tests.support.mosquitto import BrokerClient, MosquittoBroker, authorized_command

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
REPO = Path(__file__).resolve().parents[3]


class Recorder:
    """A subscriber (ingest's account: it reads everything) that keeps every message, for assertions;
    it sends commands with the backend's account."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.broker = broker
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4()}"
        )
        self.client.username_pw_set(*broker.login("ingest"))
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert subscribed.wait(5)
        self.backend: BrokerClient | None = None

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, suffix: str) -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return [m for m in self.messages if m[0].endswith("/" + suffix)]

    def wait_for(self, pred, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.05)
        return False

    def publish(self, topic: str, payload: bytes) -> None:
        if self.backend is None:
            self.backend = self.broker.client("backend")
        self.backend.publish(topic, payload)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        if self.backend is not None:
            self.backend.close()


def env_for(broker: MosquittoBroker, platform: str, devices: int) -> dict[str, str]:
    """The environment of a `simulate` process whose devices have accounts on ``broker``."""
    broker.fleet_credentials(platform, [d.code for d in build_fleet(devices)])
    return {
        **os.environ,
        "PILOTSHARE_MQTT_URL": broker.url,
        "PILOTSHARE_MQTT_CREDENTIALS": str(broker.credentials_path),
        "PYTHONPATH": str(REPO),
    }


def test_fleet_publishes_contract_payloads_and_answers_commands(mosquitto: MosquittoBroker) -> None:
    rec = Recorder(mosquitto, "pilotshare/v1/itest/#")
    devices = build_fleet(4, seed=1)
    accounts = mosquitto.fleet_credentials("itest", [d.code for d in devices])
    opts = FleetOptions(hz=10, duration=3.0, batch_seconds=0.25, seed=1, progress_every=100)
    result: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            run_mqtt(
                devices, "itest", mosquitto.url, opts, progress=lambda m: None, credentials=accounts
            ).summary()
        )
    )
    runner.start()
    try:
        assert rec.wait_for(lambda: len(rec.on("status")) >= 4), "no birth messages"
        cmd_topic = protocol.cmd_topic("itest", "F5-1")
        rec.publish(cmd_topic, authorized_command("c1", "lock"))
        rec.publish(cmd_topic, authorized_command("c2", "setpoint", {"temperature_sp_c": 300}))
        rec.publish(cmd_topic, b'{"id": "c3", "action": "explode"}')
        rec.publish(cmd_topic, authorized_command("c4", "setpoint", {"temperature_sp_c": 30}))
        rec.publish(cmd_topic, protocol.Command(id="c5", action="unlock").to_json())  # no authority
        rec.publish(cmd_topic, authorized_command("c6", "unlock", valid_s=-1))  # expired
        assert rec.wait_for(lambda: len(rec.on("cmd/ack")) >= 6)
    finally:
        runner.join(30)
    assert not runner.is_alive()

    acks = {a.id: a for a in (protocol.parse_payload("cmd/ack", m[1]) for m in rec.on("cmd/ack"))}
    assert acks["c1"].ok and acks["c4"].ok
    assert not acks["c2"].ok and "outside" in (acks["c2"].error or "")
    assert not acks["c3"].ok and "action" in (acks["c3"].error or "")
    assert not acks["c5"].ok and "on_behalf_of" in (acks["c5"].error or "")
    assert not acks["c6"].ok and "expired" in (acks["c6"].error or "")
    assert devices[0].locked and devices[0].setpoints["temperature_sp_c"] == 30.0

    assert rec.wait_for(
        lambda: (
            sum(len(json.loads(m[1])["samples"]) for m in rec.on("telemetry")) >= result["samples_published"]
        )
    )
    telemetry = [
        (protocol.parse_topic(m[0]), protocol.parse_payload("telemetry", m[1])) for m in rec.on("telemetry")
    ]
    per_device: dict[str, list[int]] = {}
    for parts, msg in telemetry:
        assert msg.agent == f"sim-itest-{parts.resource}"
        per_device.setdefault(parts.resource, []).append(msg.seq)
        assert len(msg.samples) > 1  # batched
    assert sorted(per_device) == sorted(d.code for d in devices)
    assert all(seqs == list(range(len(seqs))) for seqs in per_device.values())
    total = sum(len(msg.samples) for _, msg in telemetry)
    assert total == result["samples_published"] == result["samples_generated"] == 4 * 30
    assert result["devices"] == 4

    statuses = [protocol.parse_payload("status", m[1]) for m in rec.on("status")]
    assert [s.state for s in statuses].count("online") == 4
    assert [s.state for s in statuses].count("offline") == 4  # clean shutdown says goodbye
    for m in rec.on("event"):
        protocol.parse_payload("event", m[1])
    rec.close()

    # retained: a late subscriber still learns each device's last status
    late = Recorder(mosquitto, "pilotshare/v1/itest/+/status")
    assert late.wait_for(lambda: len(late.on("status")) == 4)
    assert all(m[2] and json.loads(m[1]) == {"state": "offline"} for m in late.on("status"))
    late.close()


def test_killed_fleet_is_reported_offline_by_the_last_will(mosquitto: MosquittoBroker) -> None:
    rec = Recorder(mosquitto, "pilotshare/v1/lwt/+/status")
    env = env_for(mosquitto, "lwt", 2)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.cli",
            "simulate",
            "--devices",
            "2",
            "--hz",
            "5",
            "--duration",
            "60",
            "--platform",
            "lwt",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert rec.wait_for(lambda: len(rec.on("status")) >= 2, 20), "fleet never came online"
        births = [json.loads(m[1]) for m in rec.on("status")]
        assert all(b["state"] == "online" and b["fields"]["device_type"] for b in births)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # the broker notices the dead sockets at once (RST) and publishes the wills
        assert rec.wait_for(lambda: len(rec.on("status")) >= 4, 20)
        wills = [json.loads(m[1]) for m in rec.on("status")[2:]]
        assert wills == [{"state": "offline"}, {"state": "offline"}]
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()


def test_simulate_command_prints_one_json_summary(mosquitto: MosquittoBroker) -> None:
    env = env_for(mosquitto, "jinan-bio", 12)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulators.cli",
            "simulate",
            "--devices",
            "12",
            "--hz",
            "10",
            "--duration",
            "2",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["devices"] == 12 and summary["samples_published"] == 12 * 20
    assert summary["seconds"] > 0
    assert "connecting" in out.stderr


def test_fleet_reconnects_after_a_broker_restart(mosquitto: MosquittoBroker) -> None:
    rec = Recorder(mosquitto, "pilotshare/v1/recon/#")
    devices = build_fleet(2, seed=2)
    accounts = mosquitto.fleet_credentials("recon", [d.code for d in devices])
    opts = FleetOptions(hz=10, duration=8.0, batch_seconds=0.25, seed=2, progress_every=100)
    result: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            run_mqtt(
                devices, "recon", mosquitto.url, opts, progress=lambda m: None, credentials=accounts
            ).summary()
        )
    )
    runner.start()
    try:
        assert rec.wait_for(lambda: len(rec.on("telemetry")) >= 4)
        rec.close()
        mosquitto.restart()  # same port; every connection drops
        rec = Recorder(mosquitto, "pilotshare/v1/recon/#")
        # back online: a fresh (live, not retained-replay) birth per device, and telemetry flows again
        assert rec.wait_for(
            lambda: sum(json.loads(m[1])["state"] == "online" and not m[2] for m in rec.on("status")) >= 2, 15
        )
        assert rec.wait_for(lambda: len({m[0] for m in rec.on("telemetry")}) == 2, 15)
    finally:
        runner.join(30)
        rec.close()
    assert not runner.is_alive()
    assert result["samples_published"] > 0


def test_bookings_drive_usage_seen_in_telemetry(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    bookings = [
        {
            "resource": "F5-1",
            "start": (now + timedelta(seconds=3)).isoformat(),
            "end": (now + timedelta(seconds=5)).isoformat(),
            "org": "sme-1",
        }
    ]
    path = tmp_path / "bookings.json"
    path.write_text(json.dumps(bookings))
    rec = Recorder(mosquitto, "pilotshare/v1/jinan-bio/F5-1/telemetry")
    env = env_for(mosquitto, "jinan-bio", 2)
    args = ["--devices", "2", "--hz", "10", "--duration", "7", "--bookings", str(path), "--no-show-rate", "0"]
    args += ["--late-start-rate", "0", "--overrun-rate", "0", "--unbooked-per-day", "0"]
    subprocess.run(
        [sys.executable, "-m", "simulators.cli", "simulate", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert rec.wait_for(lambda: len(rec.on("telemetry")) >= 10)
    rec.close()
    samples = [s for m in rec.on("telemetry") for s in json.loads(m[1])["samples"]]
    states = [s["fields"]["state"] for s in samples]
    changes = [st for i, st in enumerate(states) if i == 0 or states[i - 1] != st]
    assert changes == ["idle", "setup", "cleaning"]
    start_ns = int((now + timedelta(seconds=3)).timestamp() * 1e9)
    first_setup = next(s["ts"] for s in samples if s["fields"]["state"] == "setup")
    # within two ticks of the booking start (or of the fleet's start, had it started late)
    assert start_ns <= first_setup < max(start_ns, samples[0]["ts"]) + 200_000_000


def test_sigterm_ends_the_fleet_cleanly_with_its_summary(mosquitto: MosquittoBroker) -> None:
    rec = Recorder(mosquitto, "pilotshare/v1/term/+/status")
    env = env_for(mosquitto, "term", 2)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.cli",
            "simulate",
            "--devices",
            "2",
            "--duration",
            "60",
            "--platform",
            "term",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert rec.wait_for(lambda: len(rec.on("status")) >= 2, 20)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["devices"] == 2 and summary["seconds"] < 30
    assert rec.wait_for(lambda: len(rec.on("status")) >= 4)
    assert [json.loads(m[1]) for m in rec.on("status")[2:]] == [{"state": "offline"}] * 2
    rec.close()


def test_fleet_waits_for_a_broker_that_starts_late(tmp_path: Path) -> None:
    from tests.support.mosquitto import _binary, free_port

    binary = _binary()
    if binary is None:
        pytest.skip("no mosquitto")
    devices = build_fleet(2)
    broker = MosquittoBroker(binary, tmp_path, port=free_port(), agents=[f"late/{d.code}" for d in devices])
    accounts = broker.fleet_credentials("late", [d.code for d in devices])
    timer = threading.Timer(1.5, broker.start)
    timer.start()
    try:
        opts = FleetOptions(hz=10, duration=1.0, progress_every=100)
        run = run_mqtt(devices, "late", broker.url, opts, progress=lambda m: None, credentials=accounts)
        result = run.summary()
    finally:
        timer.join()
        broker.stop()
    assert result["samples_published"] == 20
