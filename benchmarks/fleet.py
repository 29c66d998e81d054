"""Simulated fleet throughput: can N devices at F Hz keep real time on this machine?

    .venv/bin/python benchmarks/fleet.py [--devices 200] [--hz 10] [--duration 30]
                                         [--mqtt-url URL --credentials credentials.json --platform CODE]
    .venv/bin/python benchmarks/fleet.py --protocol modbus|opcua [--read-hz 1]

MQTT (default):
Without --mqtt-url a private Mosquitto is started on a free port (tests/support/mosquitto.py), so the
figure does not depend on whatever else uses the system broker; with --mqtt-url, the devices and the
counting subscriber log in with the agents' and ingest's accounts from --credentials (the devices of
--platform must be in the registry it was written from). A subscriber counts the samples that
actually arrive. Prints one JSON object: devices, target and achieved samples/s (broker-acknowledged and
received), worst lag behind real time, and the CPU seconds the fleet process used.

Modbus / OPC UA: the fleet serves every device while, in the same process, real clients (pymodbus: one per
device; asyncua: one session per server reading every variable) poll every device at --read-hz, the way
edge agents would. Prints snapshots served per second, reads completed per second and the worst lag.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators.fleet import FleetOptions, run_mqtt
from simulators.mqtt_link import parse_mqtt_url
from simulators.platform import build_fleet


class Counter:
    def __init__(self, url: str, platform: str, login: tuple[str, str]) -> None:
        host, port = parse_mqtt_url(url)
        self.samples = 0
        self.messages = 0
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}"
        )
        self.client.username_pw_set(*login)
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect(host, port)
        self.client.subscribe(f"pilotshare/v1/{platform}/+/telemetry", qos=1)
        self.client.loop_start()
        ready.wait(5)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # counting "samples" occurrences is enough and keeps the subscriber from being the bottleneck
        self.samples += msg.payload.count(b'"fields"')
        self.messages += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def _serve_and_read(args: argparse.Namespace) -> dict[str, Any]:
    import asyncio

    from simulators.fleet import serve_fleet
    from tests.support.mosquitto import free_port

    devices = build_fleet(args.devices, seed=args.seed)
    per = 25
    n_servers = args.devices if args.protocol == "modbus" else -(-args.devices // per)
    base = free_port()
    while base + n_servers > 65000:
        base = free_port()
    opts = FleetOptions(hz=args.hz, duration=args.duration, seed=args.seed, progress_every=10)
    stop = asyncio.Event()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    fleet = asyncio.create_task(
        serve_fleet(devices, args.protocol, opts, base_port=base, stop_event=stop, per_server=per)
    )
    reads = 0
    errors = 0

    async def modbus_reader(i: int) -> None:
        nonlocal reads, errors
        from pymodbus.client import AsyncModbusTcpClient

        from simulators.servers.modbus import IR_SIGNALS

        client = AsyncModbusTcpClient("127.0.0.1", port=base + i, timeout=5)
        while not await client.connect():
            await asyncio.sleep(0.2)
        count = IR_SIGNALS + 2 * len(devices[i].signals)
        while not fleet.done():
            rr = await client.read_input_registers(0, count=count, device_id=1)
            if rr.isError():
                errors += 1
            else:
                reads += 1
            await asyncio.sleep(1.0 / args.read_hz)
        client.close()

    async def opcua_reader(g: int) -> None:
        nonlocal reads, errors
        from asyncua import ua
        from asyncua.client.client import Client

        from simulators.servers.opcua import NAMESPACE

        url = f"opc.tcp://127.0.0.1:{base + g}/pilotshare/"
        for _ in range(200):
            try:
                client = Client(url, timeout=10)
                await client.connect()
                break
            except (OSError, TimeoutError):
                await asyncio.sleep(0.2)
        idx = await client.get_namespace_index(NAMESPACE)
        group = devices[g * per : (g + 1) * per]
        nodes = [
            client.get_node(ua.NodeId(f"{d.code}.{s.name}", idx))  # type: ignore[arg-type]
            for d in group
            for s in d.signals
        ]
        while not fleet.done():
            await client.read_values(nodes)
            reads += len(group)
            await asyncio.sleep(1.0 / args.read_hz)
        await client.disconnect()

    if args.protocol == "modbus":
        readers = [asyncio.create_task(modbus_reader(i)) for i in range(args.devices)]
    else:
        readers = [asyncio.create_task(opcua_reader(g)) for g in range(n_servers)]
    result = await fleet
    await asyncio.gather(*readers, return_exceptions=True)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    summary = result.summary()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "benchmark": f"fleet_{args.protocol}",
        "devices": summary["devices"],
        "servers": n_servers,
        "hz": args.hz,
        "duration_s": args.duration,
        "target_samples_per_s": summary["target_samples_per_s"],
        "achieved_samples_per_s": summary["achieved_samples_per_s"],
        "lag_max_s": summary["lag_max_s"],
        "client_read_hz_per_device": args.read_hz,
        "device_reads_per_s": round(reads / summary["seconds"], 1),
        "read_errors": errors,
        "process_cpu_s_incl_startup_and_clients": round(cpu, 2),
        "cores": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", choices=["mqtt", "modbus", "opcua"], default="mqtt")
    ap.add_argument("--read-hz", type=float, default=1.0, help="modbus/opcua: client polls per device per s")
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--batch-seconds", type=float, default=0.5)
    ap.add_argument("--mqtt-url", default="")
    ap.add_argument("--credentials", default=os.environ.get("PILOTSHARE_MQTT_CREDENTIALS", ""))
    ap.add_argument("--platform", default="bench")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.protocol != "mqtt":
        import asyncio

        print(json.dumps(asyncio.run(_serve_and_read(args))))
        return

    broker = None
    url = args.mqtt_url
    platform = args.platform
    devices = build_fleet(args.devices, seed=args.seed)
    if url:
        if not args.credentials:
            sys.exit("--mqtt-url needs --credentials (the credentials.json of `pilotshare mqtt credentials`)")
        data = json.loads(Path(args.credentials).read_text())
        ingest = (data["ingest"]["username"], data["ingest"]["password"])
        agents = {k: (v["username"], v["password"]) for k, v in data["agents"].items()}
    else:
        from tests.support.mosquitto import MosquittoBroker, _binary

        binary = _binary()
        if binary is None:
            sys.exit("no mosquitto binary; pass --mqtt-url")
        tmp = tempfile.TemporaryDirectory(prefix="bench-mosquitto-")
        broker = MosquittoBroker(binary, Path(tmp.name), agents=[f"{platform}/{d.code}" for d in devices])
        broker.start()
        url = broker.url
        ingest = broker.login("ingest")
        agents = broker.fleet_credentials(platform, [d.code for d in devices])
    counter = Counter(url, platform, ingest)
    try:
        opts = FleetOptions(
            hz=args.hz,
            duration=args.duration,
            batch_seconds=args.batch_seconds,
            seed=args.seed,
            progress_every=10,
        )
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        summary = run_mqtt(devices, platform, url, opts, credentials=agents).summary()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        deadline = time.monotonic() + 10
        while counter.samples < summary["samples_published"] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        counter.close()
        if broker is not None:
            broker.stop()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(
        json.dumps(
            {
                "benchmark": "fleet_mqtt",
                "devices": summary["devices"],
                "hz": args.hz,
                "duration_s": args.duration,
                "batch_seconds": args.batch_seconds,
                "target_samples_per_s": summary["target_samples_per_s"],
                "achieved_samples_per_s": summary["achieved_samples_per_s"],
                "samples_generated": summary["samples_generated"],
                "samples_acked_by_broker": summary["samples_published"],
                "samples_received_by_subscriber": counter.samples,
                "telemetry_messages_received": counter.messages,
                "lag_max_s": summary["lag_max_s"],
                "process_cpu_s_fleet_plus_subscriber": round(cpu, 2),
                "process_cpu_share_of_one_core": round(cpu / summary["seconds"], 3),
                "cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
