"""A long outage fills the capped disk buffer: the oldest samples go, and the platform is told."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.buffer import DiskBuffer
from edge_agent.settings import parse_settings
from tests.integration.edge_agent.helpers import until
from tests.support.mosquitto import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


async def test_a_full_buffer_drops_oldest_first_and_says_so(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "agent_id": "edge-cap",
            "platform": "jinan-bio",
            "resource": "TF-2",
            # nobody listens: a broker that is down
            "mqtt": {"url": f"mqtt://127.0.0.1:{free_port()}", "username": "agent/p/r", "password": "pw"},
            "device": {"driver": "sim", "sim": {"device_type": "furnace", "code": "TF-2"}},
            "sampling": {"hz": 50, "batch_interval_s": 0.1},
            "buffer": {"dir": str(tmp_path), "max_mb": 0.01},  # ~10 kB: a few batches
        }
    )
    agent = Agent(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await until(lambda: agent.buffer is not None and agent.buffer.dropped_samples > 0, what="a drop")
    stop.set()
    await asyncio.wait_for(task, 15)

    buffer = DiskBuffer(tmp_path / "edge-cap.sqlite3", settings.buffer.max_bytes)
    rows = buffer.after(0, 10_000)
    assert buffer.bytes <= settings.buffer.max_bytes
    seqs = [json.loads(r.payload)["seq"] for r in rows if r.topic.endswith("/telemetry")]
    assert seqs and seqs[0] > 0 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # newest kept, in order
    events = [json.loads(r.payload) for r in rows if r.topic.endswith("/event")]
    overflow = [e for e in events if e["code"] == "buffer_overflow"]
    assert overflow and overflow[-1]["kind"] == "fault" and "dropped the oldest" in overflow[-1]["message"]
