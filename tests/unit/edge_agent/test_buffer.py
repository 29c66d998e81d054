"""The disk buffer keeps order, survives reopening, and drops the oldest first when full."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge_agent.buffer import DiskBuffer


def telemetry(seq: int, size: int = 10) -> bytes:
    return json.dumps({"seq": seq, "pad": "x" * size}).encode()


def test_rows_come_back_in_order_and_leave_only_when_acknowledged(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite3", max_bytes=10**6)
    ids = [buf.append_with_seq("t", telemetry, samples=5) for _ in range(10)]
    assert [json.loads(r.payload)["seq"] for r in buf.after(0, 100)] == list(range(10))
    assert [r.id for r in buf.after(ids[3], 3)] == ids[4:7]
    buf.remove([ids[0], ids[2], ids[2], 999])
    assert [r.id for r in buf.after(0, 100)] == [ids[1], *ids[3:]]
    assert buf.count == 8


def test_contents_and_seq_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    buf = DiskBuffer(path, max_bytes=10**6)
    for _ in range(3):
        buf.append_with_seq("t", telemetry)
    buf.remove([r.id for r in buf.after(0, 100)])
    buf.append_with_seq("t", telemetry)
    buf.append("event", b"{}")  # events do not use a seq
    buf.close()
    again = DiskBuffer(path, max_bytes=10**6)
    rows = again.after(0, 100)
    assert [r.topic for r in rows] == ["t", "event"] and json.loads(rows[0].payload)["seq"] == 3
    assert again.next_seq() == 4 and again.count == 2 and again.bytes == sum(len(r.payload) for r in rows)
    again.append_with_seq("t", telemetry)
    assert json.loads(again.after(rows[-1].id, 1)[0].payload)["seq"] == 4


def test_size_cap_drops_oldest_first_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    one = len(telemetry(0, 1000))
    buf = DiskBuffer(tmp_path / "b.sqlite3", max_bytes=5 * one + one // 2)
    with caplog.at_level(logging.WARNING, logger="edge_agent.buffer"):
        for _ in range(8):
            buf.append_with_seq("t", lambda seq: telemetry(seq, 1000), samples=10)
    kept = [json.loads(r.payload)["seq"] for r in buf.after(0, 100)]
    assert kept == [3, 4, 5, 6, 7]
    assert (buf.dropped_messages, buf.dropped_samples) == (3, 30)
    assert buf.bytes <= buf.max_bytes
    assert "dropped the 1 oldest message(s) with 10 sample(s)" in caplog.text


def test_one_message_larger_than_the_cap_is_still_kept(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite3", max_bytes=100)
    buf.append_with_seq("t", lambda seq: telemetry(seq, 500))
    assert buf.count == 1
