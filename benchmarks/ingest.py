"""Drain a telemetry backlog: `pilotshare ingest` with 1, 2 and 4 workers beside Node-RED, in one run.

    .venv/bin/python benchmarks/ingest.py [--samples 1000000] [--per-message 100] [--resources 200]
                                          [--workers 1,2,4] [--no-node-red] [--latency-seconds 10]
                                          [--database postgresql|sqlite] [--repeat 1]

For each subject: a private Mosquitto on a free port (tests/support/mosquitto.py), the subscribers'
persistent sessions made first (same client ids and filters as the subject uses), then the whole backlog
published with QoS 1 (`--samples` contract-shaped samples, `--per-message` a message, spread over
`--resources` instruments of the seeded demo platform, fields as the simulators' devices send them), and
only then the subject started. Every subject writes into its own database of one private `influxd`;
each `pilotshare ingest` run gets a fresh SQL database (PostgreSQL by default: several workers on SQLite
take turns at its one write lock). `--repeat` runs every subject that many times, alternating.

- points_per_s: samples / (time of the last stored point - time of the first), read from influxd's own
  write counter (`SHOW STATS`, polled every 0.1 s: cheap, unlike counting a million points);
- loss: samples published - points found in InfluxDB at the end (`count(state)`; every sample has one);
- rss_mb: the largest resident set seen per process while draining (all of a subject's processes);
- twin latency (pilotshare only): afterwards the workers go on running while live messages are published
  at 80 % of the drain rate for `--latency-seconds` (20 instruments, each message's samples spread over the
  time since that instrument's previous one); each message's newest sample is stamped with the time it is
  sent, and its latency is the time until the twin table (polled every 0.05 s) shows it or a newer one.

Node-RED 4 and node-red-contrib-influxdb are installed from the npm registry into `.var/cache/node-red`
the first time. Its flow is the usual one: `mqtt in` (persistent session, QoS 1, JSON) → a function that
turns a message's samples into points → `influxdb batch` (v1 API, ms precision). Node-RED checks nothing,
keeps no twins and acknowledges a message when it is received, not when it is written.

Prints ONE JSON object. Other work on the machine changes the figures: record `uptime` with them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.db import make_engine, unit_of_work  # noqa: E402
from backend.ingest.service import NEVER_EXPIRES, subscriptions  # noqa: E402
from backend.migrations import upgrade  # noqa: E402
from backend.services.demo.seed import demo_data, fleet_codes, seed_demo  # noqa: E402
from backend.settings import Settings  # noqa: E402
from edge_agent.protocol import subscription, telemetry_topic  # noqa: E402
from simulators.devices import make_device  # noqa: E402
from tests.support.databases import database  # noqa: E402
from tests.support.influxdb import InfluxServer  # noqa: E402
from tests.support.influxdb import _binary as influxd_binary  # noqa: E402
from tests.support.mosquitto import MosquittoBroker  # noqa: E402
from tests.support.mosquitto import _binary as mosquitto_binary  # noqa: E402

NODE_RED_CACHE = ROOT / ".var" / "cache" / "node-red"
STATES = ["idle", "setup", "running", "running", "running", "cleaning"]
STEP_NS = 100_000_000  # 10 Hz instruments
STATE_NS = 120 * 10**9  # an instrument changes its work state every two minutes (many more than real runs)
LIVE_RESOURCES = 20  # instruments publishing during the latency measurement (one connection each)
Message = tuple[str, bytes]


# --------------------------------------------------------------------------- the backlog


def make_backlog(codes: list[tuple[str, str, str]], samples: int, per_message: int) -> list[Message]:
    """Messages of `per_message` samples round-robin over the instruments, device time in the past."""
    devices = {code: make_device(kind, code, seed=i) for i, (_, code, kind) in enumerate(codes)}
    t0 = time.time_ns() - 2 * 86400 * 10**9
    t0 -= t0 % 10**6  # whole milliseconds, so Node-RED's JavaScript numbers hold them exactly
    encode = msgspec.json.encode
    messages: list[Message] = []
    for m in range(samples // per_message):
        platform, code, _ = codes[m % len(codes)]
        device = devices[code]
        block = m // len(codes)
        state = STATES[block * per_message * STEP_NS // STATE_NS % len(STATES)]
        rows = []
        for i in range(per_message):
            device.tick(0.1)
            fields = dict(device.read())
            fields["state"] = state
            rows.append({"ts": t0 + (block * per_message + i) * STEP_NS, "fields": fields})
        body = encode({"agent": f"bench-{code}", "seq": block, "samples": rows})
        messages.append((telemetry_topic(platform, code), body))
    return messages


def publish(broker: MosquittoBroker, messages: list[Message]) -> None:
    """Each resource's messages from its own agent's account: an agent may publish only its own."""
    by_topic: dict[str, list[bytes]] = {}
    for topic, body in messages:
        by_topic.setdefault(topic, []).append(body)
    for topic, bodies in by_topic.items():
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
        client.username_pw_set(*broker.login_for(topic))
        client.max_inflight_messages_set(1000)
        client.connect(broker.host, broker.port)
        client.loop_start()
        infos = [client.publish(topic, body, qos=1) for body in bodies]
        for info in infos:
            info.wait_for_publish(60)
        client.disconnect()
        client.loop_stop()


def make_session(broker: MosquittoBroker, client_id: str, topics: list[str], v5: bool) -> None:
    """Subscribe once and leave: the broker keeps the session and queues the backlog for it."""
    subscribed = threading.Event()
    if v5:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = NEVER_EXPIRES
        client.username_pw_set(*broker.login("ingest"))
        client.connect(broker.host, broker.port, clean_start=False, properties=props)
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        client.username_pw_set(*broker.login("ingest"))
        client.connect(broker.host, broker.port)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.loop_start()
    client.subscribe([(t, 1) for t in topics])
    if not subscribed.wait(10):
        raise RuntimeError(f"no SUBACK for {client_id}")
    client.disconnect()
    client.loop_stop()


# --------------------------------------------------------------------------- measuring


def points_requested(influx: InfluxServer) -> int:
    """influxd's count of points asked to be written since it started (all databases)."""
    r = httpx.get(f"{influx.url}/query", params={"q": "SHOW STATS FOR 'write'"}, timeout=10)
    for result in r.json().get("results", []):
        for series in result.get("series", []):
            row = dict(zip(series["columns"], series["values"][0], strict=False))
            return int(row.get("pointReq", 0))
    return 0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads) so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuShares:
    """CPU each party used between `start()` and `shares()`, in cores (1.0 = one core all the time)."""

    def __init__(self, parties: dict[str, Callable[[], list[int]]]) -> None:
        self.parties = parties
        self.before: dict[str, dict[int, float]] = {}
        self.started = 0.0

    def _read(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self.parties.items()}

    def start(self) -> None:
        self.before = self._read()
        self.started = time.monotonic()

    def shares(self) -> dict[str, float]:
        after = self._read()
        seconds = time.monotonic() - self.started
        return {
            name: round(
                sum(v - self.before.get(name, {}).get(pid, 0.0) for pid, v in used.items()) / seconds, 2
            )
            for name, used in after.items()
        }


def drain(influx: InfluxServer, pids: Callable[[], list[int]], total: int, timeout: float) -> dict[str, Any]:
    base = points_requested(influx)
    first = last = None
    peak: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pids():
        done = points_requested(influx) - base
        now = time.monotonic()
        if done > 0 and first is None:
            first = now
        for pid in pids():
            peak[pid] = max(peak.get(pid, 0.0), rss_mb(pid))
        if done >= total:
            last = now
            break
        time.sleep(0.1)
    seconds = None if first is None or last is None else last - first
    return {
        "seconds": None if seconds is None else round(seconds, 2),
        "points_per_s": None if not seconds else round(total / seconds),
        "rss_mb": sorted(round(v, 1) for v in peak.values()),
    }


def stored(influx: InfluxServer, database: str, expected: int, settle: float = 10.0) -> int:
    """Points in `database` (waiting up to `settle` s for the last writes to become visible)."""
    deadline = time.monotonic() + settle
    count = 0
    while True:
        series = influx.query("SELECT count(state) FROM telemetry", database)
        count = int(series[0]["values"][0][1]) if series else 0
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def twin_latency(
    broker: MosquittoBroker,
    url: str,
    codes: list[tuple[str, str, str]],
    ids: dict[str, int],
    rate: float,
    seconds: float,
    per_message: int,
    cpu: CpuShares,
) -> dict[str, Any]:
    """Publish live messages at `rate` samples/s; latency of each message's newest sample to the twin."""
    sent: dict[int, list[int]] = {rid: [] for rid in ids.values()}  # resource -> newest ts per message
    seen: dict[int, list[tuple[int, int]]] = {rid: [] for rid in ids.values()}  # (twin ns, when seen)
    stop = threading.Event()

    def poll() -> None:
        read = twin_state_times(url, [ids[code] for _, code, _ in codes[:LIVE_RESOURCES]])
        last: dict[int, int] = {}
        while not stop.is_set():
            rows = read()
            now = time.time_ns()
            for rid, ns in rows:
                if ns is not None and rid in seen and ns != last.get(rid):
                    last[rid] = ns
                    seen[rid].append((ns, now))
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    live = codes[:LIVE_RESOURCES]
    clients = {}
    for platform, code, _ in live:
        topic = telemetry_topic(platform, code)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-live-{uuid.uuid4().hex[:6]}")
        client.username_pw_set(*broker.login_for(topic))
        client.max_inflight_messages_set(1000)
        client.connect(broker.host, broker.port)
        while not client.is_connected():  # the CONNACK; no network thread per client (below)
            client.loop(timeout=0.1)
        clients[code] = (topic, client)
    # Each instrument's fields encoded once: the publisher stands for agents on other machines, so it
    # should take as little of this machine's CPU as it can (0.26 cores when it encoded every sample).
    fields = {
        code: msgspec.json.encode({**make_device(kind, code).read(), "state": "running"})
        for _, code, kind in live
    }
    per_second = rate / per_message
    # An instrument's samples are spread evenly over the time since its previous message, as an agent
    # buffering between sends has them: in order, none older than what it sent before.
    previous = {code: time.time_ns() - 10**9 for _, code, _ in live}
    started = time.monotonic()
    cpu.start()
    count = 0
    while time.monotonic() - started < seconds:
        due = int((time.monotonic() - started) * per_second)
        while count < due:
            _, code, _ = live[count % len(live)]
            now = time.time_ns()
            step, previous[code] = (now - previous[code]) // per_message, now
            tail = b',"fields":' + fields[code] + b"}"
            rows = b",".join(
                b'{"ts":%d%s' % (now - (per_message - 1 - i) * step, tail) for i in range(per_message)
            )
            topic, client = clients[code]
            client.publish(topic, b'{"agent":"live","seq":%d,"samples":[%s]}' % (count, rows), 1)
            sent[ids[code]].append(now)
            count += 1
        # Every connection served from this thread (acknowledgements read, keepalive): twenty network
        # threads of paho took 0.19 cores of the two, handing the GIL round for each message.
        for _, client in clients.values():
            client.loop(timeout=0)
        time.sleep(0.005)
    cpu_cores = cpu.shares()
    for _, client in clients.values():
        client.loop(timeout=0)
    time.sleep(3)
    stop.set()
    watcher.join()
    for _, client in clients.values():
        client.disconnect()
    latencies: list[tuple[int, float | None]] = []  # (sent, latency)
    for rid, stamps in sent.items():
        views = seen[rid]
        for ts in stamps:
            when = next((w for ns, w in views if ns >= ts), None)
            latencies.append((ts, None if when is None else (when - ts) / 1e9))
    measured = sorted(v for _, v in latencies if v is not None)
    if not measured:
        return {"messages": count, "never_seen": len(latencies)}
    latencies.sort()
    thirds = [latencies[i * len(latencies) // 3 : (i + 1) * len(latencies) // 3] for i in range(3)]
    return {
        "offered_samples_per_s": round(rate),
        "messages": count,
        "never_seen": sum(v is None for v in latencies),
        "p50_s": round(statistics.quantiles(measured, n=100)[49], 3),
        "p99_s": round(statistics.quantiles(measured, n=100)[98], 3),
        "max_s": round(measured[-1], 3),
        # p50 over the first, middle and last third of the messages: growing means ingest fell behind
        "p50_by_thirds_s": [
            round(statistics.median(v for _, v in third if v is not None), 3)
            for third in thirds
            if any(v is not None for _, v in third)
        ],
        # CPU used while publishing, in cores (2 on this machine): who shares them with ingest
        "cpu_cores": cpu_cores,
    }


# --------------------------------------------------------------------------- subjects


def new_broker(workdir: Path, codes: list[tuple[str, str, str]]) -> MosquittoBroker:
    """A private broker configured as every shipped one (accounts, ACL, durability), agents known."""
    agents = [f"{platform}/{code}" for platform, code, _ in codes]
    broker = MosquittoBroker(
        mosquitto_binary() or "mosquitto", Path(tempfile.mkdtemp(dir=workdir)), agents=agents
    )
    broker.start()
    return broker


@contextmanager
def fresh_database(kind: str, workdir: Path, resources: int) -> Iterator[str]:
    """A migrated database with the demo platform and `resources` fleet instruments, dropped afterwards."""
    with database(kind, workdir) as url:
        upgrade(url)
        engine = make_engine(Settings(database_url=url))
        with unit_of_work(engine) as session:
            seed_demo(session, fleet_devices=resources)
        engine.dispose()
        yield url


def twin_state_times(url: str, resource_ids: list[int]) -> Callable[[], list[tuple[int, int | None]]]:
    """A reader of (resource id, device time of the `state` its twin shows) for these resources' twins."""
    engine = make_engine(Settings(database_url=url))
    extract = (
        "json_extract(reported, '$.state.ns')"
        if url.startswith("sqlite")
        else "CAST(CAST(reported AS json) -> 'state' ->> 'ns' AS BIGINT)"
    )
    listed = ",".join(str(int(rid)) for rid in resource_ids)
    query = text(f"SELECT resource_id, {extract} FROM twin WHERE resource_id IN ({listed})")

    def read() -> list[tuple[int, int | None]]:
        with engine.connect() as conn:
            return [(int(rid), None if ns is None else int(ns)) for rid, ns in conn.execute(query)]

    return read


def resource_ids(url: str) -> dict[str, int]:
    engine = make_engine(Settings(database_url=url))
    with engine.connect() as conn:
        ids = {code: int(rid) for rid, code in conn.execute(text("SELECT id, code FROM resource"))}
    engine.dispose()
    return ids


def stop_all(procs: list[subprocess.Popen[bytes]]) -> list[str]:
    outputs = []
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        lines = (out or b"").decode(errors="replace").strip().splitlines()
        outputs.append(lines[-1] if lines else "")
    return outputs


def run_pilotshare(
    workers: int,
    args: argparse.Namespace,
    workdir: Path,
    influx: InfluxServer,
    messages: list[Message],
    codes: list[tuple[str, str, str]],
    url: str,
) -> dict[str, Any]:
    broker = new_broker(workdir, codes)
    database = f"bench_pilotshare_{workers}"
    client_ids = [f"pilotshare-ingest-bench-{i}" for i in range(workers)]
    for client_id in client_ids:
        make_session(broker, client_id, subscriptions("pilotshare-ingest"), v5=True)
    publish(broker, messages)
    env = {
        **os.environ,
        "PILOTSHARE_DATABASE_URL": url,
        "PILOTSHARE_MQTT_URL": broker.url_as("ingest"),
        "PILOTSHARE_INFLUX_URL": influx.url,
        "PILOTSHARE_INFLUX_DB": database,
        "PILOTSHARE_LOG_LEVEL": "WARNING",
    }
    exe = str(Path(sys.executable).with_name("pilotshare"))
    procs = [
        subprocess.Popen([exe, "ingest", "--client-id", cid], env=env, stdout=subprocess.PIPE)
        for cid in client_ids
    ]
    total = len(messages) * args.per_message
    try:
        result = drain(influx, lambda: [p.pid for p in procs if p.poll() is None], total, args.timeout)
        result["loss"] = total - stored(influx, database, total)
        if result["points_per_s"] and args.latency_seconds > 0:
            result["twin_latency"] = twin_latency(
                broker,
                url,
                codes,
                resource_ids(url),
                0.8 * result["points_per_s"],
                args.latency_seconds,
                args.per_message,
                CpuShares(
                    {
                        "ingest": lambda: [p.pid for p in procs],
                        "publisher (this benchmark)": lambda: [os.getpid()],
                        "mosquitto": lambda: [broker.proc.pid] if broker.proc else [],
                        "influxd": lambda: [influx.proc.pid] if influx.proc else [],
                        "postgres": postgres_pids,
                    }
                ),
            )
    finally:
        summaries = stop_all(procs)
        broker.stop()
    result["workers"] = workers
    result["summaries"] = [json.loads(s) if s.startswith("{") else s for s in summaries]
    return result


NODE_RED_FUNCTION = """
const parts = msg.topic.split('/');
const tags = {platform: parts[2], resource: parts[3]};
msg.payload = msg.payload.samples.map(s => ({
    measurement: 'telemetry', tags: tags, fields: s.fields, timestamp: String(Math.round(s.ts / 1e6)),
}));
return msg;
"""


def install_node_red() -> Path:
    red = NODE_RED_CACHE / "node_modules" / "node-red" / "red.js"
    if not red.exists() or not (NODE_RED_CACHE / "node_modules" / "node-red-contrib-influxdb").exists():
        NODE_RED_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(NODE_RED_CACHE),
                "node-red@4",
                "node-red-contrib-influxdb",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return red


def run_node_red(
    args: argparse.Namespace,
    workdir: Path,
    influx: InfluxServer,
    messages: list[Message],
    codes: list[tuple[str, str, str]],
) -> dict[str, Any]:
    red = install_node_red()
    broker = new_broker(workdir, codes)
    database = "bench_node_red"
    httpx.post(f"{influx.url}/query", data={"q": f'CREATE DATABASE "{database}"'}, timeout=10)
    topic = subscription(channel="telemetry")
    make_session(broker, "node-red-bench", [topic], v5=False)
    publish(broker, messages)
    influx_port = influx.url.rsplit(":", 1)[1]
    flows = [
        {"id": "tab", "type": "tab", "label": "bench"},
        {
            "id": "broker",
            "type": "mqtt-broker",
            "broker": broker.host,
            "port": str(broker.port),
            "clientid": "node-red-bench",
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": False,
        },
        {
            "id": "in",
            "type": "mqtt in",
            "z": "tab",
            "topic": topic,
            "qos": "1",
            "datatype": "json",
            "broker": "broker",
            "nl": False,
            "rap": True,
            "rh": 0,
            "inputs": 0,
            "wires": [["fn"]],
        },
        {
            "id": "fn",
            "type": "function",
            "z": "tab",
            "func": NODE_RED_FUNCTION,
            "outputs": 1,
            "wires": [["out"]],
        },
        {
            "id": "db",
            "type": "influxdb",
            "hostname": "127.0.0.1",
            "port": influx_port,
            "protocol": "http",
            "database": database,
            "influxdbVersion": "1.x",
            "usetls": False,
        },
        {
            "id": "out",
            "type": "influxdb batch",
            "z": "tab",
            "influxdb": "db",
            "precision": "ms",
            "retentionPolicy": "",
            "wires": [],
        },
    ]
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    # Node-RED reads the credentials beside the flow file in its user directory (the cache folder).
    (NODE_RED_CACHE / "bench-flows.json").write_text(json.dumps(flows))
    user, password = broker.login("ingest")  # Node-RED reads everything, as ingest does
    credentials = {"broker": {"user": user, "password": password}}
    (NODE_RED_CACHE / "bench-flows_cred.json").write_text(json.dumps(credentials))
    (run_dir / "settings.js").write_text(
        "module.exports = {uiHost: '127.0.0.1', uiPort: 0, httpAdminRoot: false, httpNodeRoot: false,"
        " flowFile: 'bench-flows.json', credentialSecret: false,"
        " logging: {console: {level: 'warn'}}};\n"
    )
    proc = subprocess.Popen(
        ["node", str(red), "--userDir", str(NODE_RED_CACHE), "--settings", str(run_dir / "settings.js")],
        stdout=(run_dir / "node-red.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    total = len(messages) * args.per_message
    try:
        result = drain(influx, lambda: [proc.pid] if proc.poll() is None else [], total, args.timeout)
        result["loss"] = total - stored(influx, database, total)
        if result["loss"]:
            print((run_dir / "node-red.log").read_text()[-3000:], file=sys.stderr)
    finally:
        stop_all([proc])
        broker.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--no-node-red", action="store_true")
    parser.add_argument("--latency-seconds", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=600, help="give up on a drain after this long")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all subjects, alternating")
    parser.add_argument(
        "--database",
        choices=["postgresql", "sqlite"],
        default="postgresql",
        help="ingest's SQL database: a scratch one in the machine's PostgreSQL (PILOTSHARE_TEST_POSTGRES_URL)"
        ", or a SQLite file (one write lock: workers wait for each other)",
    )
    args = parser.parse_args()
    data = demo_data()
    platform = data["platform"]["code"]
    codes = [(platform, code, kind) for code, kind in fleet_codes(data, args.resources)]
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "influxd").mkdir()
        influx = InfluxServer(influxd_binary() or "influxd", workdir / "influxd")
        influx.start()
        try:
            messages = make_backlog(codes, args.samples, args.per_message)
            for _ in range(args.repeat):  # alternating, so that the machine's other load hits all alike
                if not args.no_node_red:
                    results.setdefault("node_red", []).append(
                        run_node_red(args, workdir, influx, messages, codes)
                    )
                for n in (int(w) for w in args.workers.split(",")):
                    with fresh_database(args.database, workdir, args.resources) as url:
                        run = run_pilotshare(n, args, workdir, influx, messages, codes, url)
                    results.setdefault(f"pilotshare_{n}", []).append(run)
        finally:
            influx.stop()
    summary = {
        name: {
            "median_points_per_s": statistics.median(r["points_per_s"] or 0 for r in runs),
            "loss": sum(r["loss"] for r in runs),
            "max_rss_mb": max(max(r["rss_mb"] or [0.0]) for r in runs),
            "runs": runs,
        }
        for name, runs in results.items()
    }
    print(
        json.dumps(
            {
                "samples": len(messages) * args.per_message,
                "samples_per_message": args.per_message,
                "resources": len(codes),
                "database": args.database,
                "load_average_at_end": os.getloadavg(),
                **summary,
            }
        )
    )


if __name__ == "__main__":
    main()
