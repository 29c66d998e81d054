"""How many samples per second one edge agent sustains from one Modbus TCP instrument.

    .venv/bin/python benchmarks/edge_agent_modbus.py [--hz 50 200 500 1000] [--seconds 10]

For each rate: a simulated fermenter served by ``simulators.servers.modbus`` in a separate process (so its
CPU is not the agent's), a private Mosquitto on a free port, and one agent (in this process) reading the
full fermenter map (15 registers → 16 fields, two Modbus requests per sample: input and nothing else)
and publishing batches every 0.5 s. Prints ONE JSON object: per rate the samples read and acknowledged
by the broker per second, ticks the agent had to skip, the agent's CPU seconds per wall second, and the
messages still buffered at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.agent import Agent  # noqa: E402
from edge_agent.settings import parse_settings  # noqa: E402
from tests.support.mosquitto import MosquittoBroker, _binary, free_port  # noqa: E402

SERVER = """
import asyncio, sys
from simulators.devices import make_device
from simulators.servers.modbus import ModbusDeviceServer
async def main():
    d = make_device("fermenter", "F5-1", seed=1); d.start_run()
    s = ModbusDeviceServer(d, port=int(sys.argv[1])); await s.start()
    print("ready", flush=True)
    while True:
        d.tick(0.1); await s.update(); await asyncio.sleep(0.1)
asyncio.run(main())
"""


def modbus_map(port: int) -> dict[str, Any]:
    from simulators.servers.modbus import register_map

    regs = []
    for e in register_map("fermenter")["input_registers"]:
        reg = {k: e[k] for k in ("name", "address", "type", "scale", "enum", "bits") if k in e}
        regs.append(reg)
    return {"host": "127.0.0.1", "port": port, "registers": regs}


async def one_rate(
    hz: float, seconds: float, broker: MosquittoBroker, modbus_port: int, workdir: Path
) -> dict[str, Any]:
    username, password = broker.login(f"bench/F-{hz:g}")
    settings = parse_settings(
        {
            "agent_id": f"bench-{hz:g}",
            "platform": "bench",
            "resource": f"F-{hz:g}",
            "mqtt": {"url": broker.url, "username": username, "password": password, "max_inflight": 100},
            "device": {"driver": "modbus", "modbus": modbus_map(modbus_port)},
            "sampling": {"hz": hz, "batch_interval_s": 0.5},
            "buffer": {"dir": str(workdir / f"buf-{hz:g}")},
            "log_level": "WARNING",
        }
    )
    agent = Agent(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    deadline = time.monotonic() + 30
    while agent.stats.samples_read == 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"{hz:g} Hz: the agent read nothing in 30 s")
        await asyncio.sleep(0.01)
    cpu0, t0, read0 = time.process_time(), time.monotonic(), agent.stats.samples_read
    assert agent.publisher is not None
    acked0 = agent.publisher.acked_samples
    await asyncio.sleep(seconds)
    cpu1, t1, read1 = time.process_time(), time.monotonic(), agent.stats.samples_read
    acked1 = agent.publisher.acked_samples
    skipped = agent.stats.ticks_skipped
    stop.set()
    await task
    wall = t1 - t0
    return {
        "target_hz": hz,
        "samples_read_per_s": round((read1 - read0) / wall, 1),
        "samples_acked_per_s": round((acked1 - acked0) / wall, 1),
        "ticks_skipped": skipped,
        "agent_cpu_per_s": round((cpu1 - cpu0) / wall, 3),
        "left_in_buffer_after_stop": agent.buffer.count if agent.buffer else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hz", type=float, nargs="+", default=[50, 200, 500, 1000])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    binary = _binary()
    if binary is None:
        raise SystemExit("no mosquitto binary")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(binary, workdir)
        broker.start()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            results = [await one_rate(hz, args.seconds, broker, port, workdir) for hz in args.hz]
        finally:
            server.terminate()
            server.wait(10)
            broker.stop()
    print(json.dumps({"benchmark": "edge_agent_modbus", "seconds": args.seconds, "runs": results}))


if __name__ == "__main__":
    asyncio.run(main())
