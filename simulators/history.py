"""Replay a platform's past as its instruments would have reported it: for each run of a run plan (the
file `pilotshare seed demo --history` writes), the device model's samples over the run, idle before and
after, published over MQTT with the device's timestamps through each instrument's own broker account.

Ingest then stores them in InfluxDB and derives the usage sessions, exactly as for live data.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import protocol
from simulators.devices import make_device
from simulators.mqtt_link import Credentials, parse_mqtt_url

SAMPLES_PER_MESSAGE = 500


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def run_samples(run: dict[str, Any], every_s: float = 60.0, seed: int = 0) -> list[dict[str, Any]]:
    """The samples of one run: idle ten minutes before, the device model's run from `start` to `end`
    (restarted if its own plan finishes early), and idle at `end`."""
    start, end = datetime.fromisoformat(run["start"]), datetime.fromisoformat(run["end"])
    device = make_device(run["device_type"], run["resource"], seed)
    samples = [{"ts": _ns(start - timedelta(minutes=10)), "fields": {**device.read(), "state": "idle"}}]
    device.start_run()
    moment = start
    while moment < end:
        fields = device.read()
        if fields.get("state") not in ("setup", "running", "cleaning"):
            device.start_run()
            fields = device.read()
        samples.append({"ts": _ns(moment), "fields": fields})
        device.tick(every_s)
        moment += timedelta(seconds=every_s)
    device.stop_run()
    samples.append({"ts": _ns(end), "fields": {**device.read(), "state": "idle"}})
    return samples


def load_plan(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list):
        raise ValueError(f"{path}: no 'runs' list (write it with `pilotshare seed demo --history FILE`)")
    return runs


def publish_history(
    runs: list[dict[str, Any]],
    mqtt_url: str,
    credentials: Credentials | None,
    every_s: float = 60.0,
    timeout: float = 120.0,
) -> int:
    """Publish every run's samples, one connection per instrument; returns the samples the broker
    acknowledged (QoS 1), after all of them were."""
    host, port = parse_mqtt_url(mqtt_url)
    by_resource: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        by_resource.setdefault((run["platform"], run["resource"]), []).extend(run_samples(run, every_s))
    acked = 0
    for (platform, resource), samples in by_resource.items():
        acked += _publish_one(host, port, platform, resource, samples, credentials, timeout)
    return acked


def _publish_one(
    host: str,
    port: int,
    platform: str,
    resource: str,
    samples: list[dict[str, Any]],
    credentials: Credentials | None,
    timeout: float,
) -> int:
    agent = f"history-{platform}-{resource}"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=agent, clean_session=True
    )
    if credentials is not None:
        client.username_pw_set(*credentials[f"{platform}/{resource}"])
    connected = threading.Event()
    acked: set[int] = set()
    lock = threading.Lock()  # never held around client.publish: paho calls back under its own locks

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            connected.set()

    def on_publish(_c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        with lock:
            acked.add(mid)

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.connect(host, port)
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise ConnectionError(f"broker {host}:{port} did not accept {agent}")
        topic = protocol.telemetry_topic(platform, resource)
        sent = []
        for seq, first in enumerate(range(0, len(samples), SAMPLES_PER_MESSAGE)):
            body = {"agent": agent, "seq": seq, "samples": samples[first : first + SAMPLES_PER_MESSAGE]}
            sent.append(client.publish(topic, json.dumps(body, separators=(",", ":")), qos=protocol.QOS).mid)
        deadline = time.monotonic() + timeout
        while True:
            with lock:
                if acked.issuperset(sent):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{agent}: the broker did not acknowledge every message in {timeout:.0f} s"
                )
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    return len(samples)
