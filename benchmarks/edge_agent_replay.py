"""How fast an edge agent empties its disk buffer after a broker outage.

    .venv/bin/python benchmarks/edge_agent_replay.py [--messages 3000] [--samples 10] [--inflight 50 200]

Fills the agent's SQLite buffer with ``--messages`` telemetry messages of ``--samples`` fermenter-sized
samples each (what an outage leaves behind: 3000 × 10 = 50 min at 10 Hz), starts a private Mosquitto and
one agent (sim driver at 1 Hz, so the backlog is nearly all it sends), and times until every buffered
message is acknowledged. Prints ONE JSON object: per in-flight window the messages and samples per second
replayed and the agent's CPU seconds per wall second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent import protocol  # noqa: E402
from edge_agent.agent import Agent  # noqa: E402
from edge_agent.buffer import DiskBuffer  # noqa: E402
from edge_agent.settings import parse_settings  # noqa: E402
from tests.support.mosquitto import MosquittoBroker, _binary  # noqa: E402

FIELDS = {
    "state": "running",
    "phase": "run",
    "power_kw": 1.65,
    "locked": False,
    "alarm": False,
    "temperature_c": 37.02,
    "temperature_sp_c": 37.0,
    "agitation_rpm": 400.3,
    "ph": 6.998,
    "do_pct": 41.27,
    "biomass_od": 3.512,
    "base_ml": 12.4,
    "acid_ml": 0.0,
    "heater_pct": 12.1,
}


async def one_window(
    inflight: int, messages: int, samples: int, broker: MosquittoBroker, workdir: Path
) -> dict[str, Any]:
    username, password = broker.login(f"bench/R-{inflight}")
    settings = parse_settings(
        {
            "agent_id": f"replay-{inflight}",
            "platform": "bench",
            "resource": f"R-{inflight}",
            "mqtt": {"url": broker.url, "username": username, "password": password, "max_inflight": inflight},
            "device": {"driver": "sim"},
            "sampling": {"hz": 1, "batch_interval_s": 1},
            "buffer": {"dir": str(workdir / f"buf-{inflight}"), "max_mb": 1000},
            "log_level": "WARNING",
        }
    )
    buffer = DiskBuffer(settings.buffer.dir / f"{settings.agent_id}.sqlite3", settings.buffer.max_bytes)
    topic = protocol.telemetry_topic(settings.platform, settings.resource)
    t0_ns = time.time_ns() - messages * samples * 100_000_000
    for m in range(messages):

        def build(seq: int, m: int = m) -> bytes:
            batch = [
                {"ts": t0_ns + (m * samples + i) * 100_000_000, "fields": FIELDS} for i in range(samples)
            ]
            return protocol.Telemetry.model_validate(
                {"agent": settings.agent_id, "seq": seq, "samples": batch}
            ).to_json()

        buffer.append_with_seq(topic, build, samples=samples)
    size_mb = buffer.bytes / 1e6
    buffer.close()

    agent = Agent(settings)
    stop = asyncio.Event()
    cpu0, t0 = time.process_time(), time.monotonic()
    task = asyncio.create_task(agent.run(stop))
    while agent.publisher is None or agent.publisher.acked_messages < messages:
        if time.monotonic() - t0 > 300:
            raise SystemExit("replay did not finish in 300 s")
        await asyncio.sleep(0.01)
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    stop.set()
    await task
    return {
        "max_inflight": inflight,
        "backlog_messages": messages,
        "backlog_samples": messages * samples,
        "backlog_mb": round(size_mb, 2),
        "seconds": round(wall, 2),
        "messages_per_s": round(messages / wall, 1),
        "samples_per_s": round(messages * samples / wall, 1),
        "agent_cpu_per_s": round(cpu / wall, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--inflight", type=int, nargs="+", default=[50, 200])
    args = parser.parse_args()
    binary = _binary()
    if binary is None:
        raise SystemExit("no mosquitto binary")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(binary, workdir)
        broker.start()
        try:
            runs = [await one_window(n, args.messages, args.samples, broker, workdir) for n in args.inflight]
        finally:
            broker.stop()
    print(json.dumps({"benchmark": "edge_agent_replay", "runs": runs}))


if __name__ == "__main__":
    asyncio.run(main())
