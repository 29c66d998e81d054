"""Where an ingest worker's time goes, without MQTT or InfluxDB: the benchmark's backlog fed to `Ingest`.

    .venv/bin/python benchmarks/ingest_batches.py [--samples 220000] [--resources 200] [--workers 1,2]

Makes the backlog of `benchmarks/ingest.py` (fleet instruments of the demo platform, 100 samples a
message, device time two days back) and, on a fresh PostgreSQL database each time:

- `split`: one `Ingest` handles it in batches of 200 messages round-robin over the instruments (every
  batch touches every instrument), and reports CPU and wall microseconds per sample of `digest` (decode,
  check, line protocol) and `store` (the SQL transaction), with Python's cycle collector as
  `pilotshare ingest` sets it;
- `workers`: N processes (N from `--workers`) share the messages in the order `benchmarks/ingest.py`
  publishes them (each instrument's messages in a row; the broker deals them out in turn), each running
  ingest's worker and store threads on its share as N workers of one group would; samples/s over all
  of them, process start included.

InfluxDB is a stub that acknowledges at once. Prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import fresh_database, make_backlog  # noqa: E402

from backend.cli.processes import INGEST_GC_THRESHOLDS  # noqa: E402
from backend.db import make_engine  # noqa: E402
from backend.ingest.service import Ingest, Received  # noqa: E402
from backend.services.demo.seed import demo_data, fleet_codes  # noqa: E402
from backend.settings import Settings  # noqa: E402

BATCH = 200


class StubWriter:
    def start(self) -> None: ...

    def stop(self, timeout: float = 0) -> None: ...

    def submit(self, lines: list[str], done: Callable[[], None] | None = None) -> None:
        if done is not None:
            done()


def received(messages: list[tuple[str, bytes]]) -> list[Received]:
    now = datetime.now(UTC)
    return [Received(topic, body, i + 1, 1, now) for i, (topic, body) in enumerate(messages)]


def split(url: str, messages: list[tuple[str, bytes]]) -> dict[str, float]:
    engine = make_engine(Settings(database_url=url))
    ingest = Ingest("mqtt://127.0.0.1:1", engine, StubWriter(), repair_faults=False)  # type: ignore[arg-type]
    items = received(messages)
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    ingest.process(batches[0])  # warm-up: codes resolved, twins and cursors made
    times = {"digest_cpu": 0.0, "digest_wall": 0.0, "store_cpu": 0.0, "store_wall": 0.0}
    for batch in batches[1:]:
        cpu, wall = time.process_time(), time.perf_counter()
        digest = ingest.digest(batch)
        cpu2, wall2 = time.process_time(), time.perf_counter()
        ingest.store(digest)
        times["digest_cpu"] += cpu2 - cpu
        times["digest_wall"] += wall2 - wall
        times["store_cpu"] += time.process_time() - cpu2
        times["store_wall"] += time.perf_counter() - wall2
    engine.dispose()
    samples = sum(len(b) for b in batches[1:]) * 100
    return {f"{k}_us_per_sample": round(v / samples * 1e6, 2) for k, v in times.items()}


def _worker(url: str, part: list[tuple[str, bytes]], out: Any) -> None:
    """One worker as `pilotshare ingest` runs it (worker and store threads), fed from its queue."""
    gc.freeze()
    gc.set_threshold(*INGEST_GC_THRESHOLDS)
    engine = make_engine(Settings(database_url=url))
    ingest = Ingest("mqtt://127.0.0.1:1", engine, StubWriter(), repair_faults=False)  # type: ignore[arg-type]
    items = received(part)
    acked = threading.Semaphore(0)

    def ack(acks: list[tuple[int, int]]) -> None:
        for _ in acks:
            acked.release()

    ingest._ack = ack  # type: ignore[method-assign]
    threads = [threading.Thread(target=ingest._work), threading.Thread(target=ingest._store_work)]
    for thread in threads:
        thread.start()
    for item in items:
        ingest._queue.put(item)
    for _ in items:
        acked.acquire()
    ingest._stopping.set()
    for thread in threads:
        thread.join()
    out.put(ingest.stats.samples)
    engine.dispose()


def workers(url: str, messages: list[tuple[str, bytes]], count: int) -> dict[str, float]:
    by_topic: dict[str, list[bytes]] = {}
    for topic, body in messages:
        by_topic.setdefault(topic, []).append(body)
    ordered = [(topic, body) for topic, bodies in by_topic.items() for body in bodies]
    out: Any = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_worker, args=(url, ordered[i::count], out)) for i in range(count)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    done = sum(out.get() for _ in procs)
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    return {
        "workers": count,
        "samples": done,
        "seconds": round(seconds, 2),
        "samples_per_s": round(done / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=220_000)
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    gc.freeze()
    gc.set_threshold(*INGEST_GC_THRESHOLDS)
    data = demo_data()
    codes = [(data["platform"]["code"], code, kind) for code, kind in fleet_codes(data, args.resources)]
    messages = make_backlog(codes, args.samples, 100)
    result: dict[str, Any] = {"samples": args.samples, "resources": args.resources}
    with tempfile.TemporaryDirectory() as tmp:
        with fresh_database("postgresql", Path(tmp), args.resources) as url:
            result["split"] = split(url, messages)
        result["workers"] = []
        for count in (int(n) for n in args.workers.split(",")):
            with fresh_database("postgresql", Path(tmp), args.resources) as url:
                result["workers"].append(workers(url, messages, count))
    result["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
