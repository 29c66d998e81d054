"""The batched InfluxDB writer against a real influxd: bad lines, a server that is away, new databases."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from backend.adapters.influx import InfluxClient, InfluxWriter, telemetry_line
from tests.support.influxdb import InfluxServer

pytestmark = pytest.mark.integration

T0 = 1_790_000_000_000_000_000


def _count(server: InfluxServer, db: str, resource: str) -> int:
    series = server.query(f"SELECT count(v) FROM telemetry WHERE resource='{resource}'", db)
    return int(series[0]["values"][0][1]) if series else 0


def _writer(server: InfluxServer, db: str, **kw: float) -> InfluxWriter:
    client = InfluxClient(server.url, db, timeout=2)
    client.ensure_database()
    writer = InfluxWriter(
        client, batch_lines=100, flush_seconds=0.05, backoff_start=0.05, backoff_max=0.5, **kw
    )  # type: ignore[arg-type]
    writer.start()
    return writer


def test_ensure_database_creates_it_once(influxdb_module: InfluxServer) -> None:
    client = InfluxClient(influxdb_module.url, f"db_{uuid.uuid4().hex[:8]}")
    assert client.ensure_database() is True
    assert client.ensure_database() is False
    client.close()


def test_a_bad_line_is_dropped_and_the_good_ones_around_it_are_written(influxdb_module: InfluxServer) -> None:
    db = f"db_{uuid.uuid4().hex[:8]}"
    writer = _writer(influxdb_module, db)
    good = [telemetry_line("p", "R1", T0 + i, {"v": float(i)}) for i in range(50)]
    lines = [*good[:20], "telemetry,platform=p,resource=R1 v=not-a-value 1", *good[20:]]
    done = threading.Event()
    writer.submit(lines, done=done.set)
    assert writer.flush(timeout=20)
    assert done.is_set()
    assert _count(influxdb_module, db, "R1") == 50
    assert writer.stats.lines_dropped == 1
    writer.stop()


def test_duplicate_lines_do_not_duplicate_points(influxdb_module: InfluxServer) -> None:
    db = f"db_{uuid.uuid4().hex[:8]}"
    writer = _writer(influxdb_module, db)
    lines = [telemetry_line("p", "R2", T0 + i, {"v": 1.0}) for i in range(10)]
    writer.submit(lines)
    writer.submit(lines)
    assert writer.flush(timeout=20)
    assert _count(influxdb_module, db, "R2") == 10
    writer.stop()


def test_nothing_is_lost_while_the_server_is_down(influxdb: InfluxServer) -> None:
    db = "pilotshare"
    writer = _writer(influxdb, db)
    influxdb.stop()
    done = threading.Event()
    writer.submit([telemetry_line("p", "R3", T0 + i, {"v": float(i)}) for i in range(300)], done=done.set)
    deadline = time.monotonic() + 3
    while writer.stats.retries < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.stats.retries >= 2, "the writer should be retrying while the server is away"
    assert not done.is_set()
    influxdb.start()
    assert writer.flush(timeout=30)
    assert done.is_set()
    assert _count(influxdb, db, "R3") == 300
    writer.stop()
