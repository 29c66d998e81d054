"""The ingest worker's own step, with and without usage sessions: validate, serialize, merge into SQL.

    .venv/bin/python benchmarks/ingest_worker.py [--resources 200] [--batches 40] [--messages 400]
                                                 [--samples 25] [--database-url URL] [--repeat 3]

Feeds `Ingest.process` batches of `--messages` telemetry messages × `--samples` samples, spread over
`--resources` instruments of a seeded platform (`seed demo --fleet-devices`), each sample carrying
`state` plus four numeric fields, with state changes so sessions open and close as they go. InfluxDB is
stubbed (the writer only collects lines), MQTT is not involved: the figure is the worker thread's
throughput, which bounds ingest. Runs every case `--repeat` times alternately — `usage` (as shipped) and
`no-usage` (`services.usage.record` replaced by a no-op, i.e. ingest before usage sessions) — on a fresh
SQLite file (or the PostgreSQL database given, which is emptied first). Prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.db import make_engine, unit_of_work  # noqa: E402
from backend.ingest import service as ingest_service  # noqa: E402
from backend.ingest.service import Ingest, Received  # noqa: E402
from backend.migrations import downgrade, upgrade  # noqa: E402
from backend.services.demo.seed import demo_data, fleet_codes, seed_demo  # noqa: E402
from backend.services.telemetry import usage  # noqa: E402
from backend.settings import Settings  # noqa: E402
from edge_agent.protocol import telemetry_topic  # noqa: E402

T0_NS = 1_796_083_200_000_000_000
STATES = ["idle"] * 3 + ["setup"] + ["running"] * 12 + ["cleaning"] * 2  # one cycle = 18 state periods


class StubWriter:
    """Stands in for InfluxWriter: keeps a count, acknowledges at once."""

    def __init__(self) -> None:
        self.lines = 0

    def start(self) -> None: ...

    def stop(self, timeout: float = 0) -> None: ...

    def submit(self, lines: list[str], done: Callable[[], None] | None = None) -> None:
        self.lines += len(lines)
        if done is not None:
            done()


def batches(codes: list[tuple[str, str]], args: argparse.Namespace) -> list[list[Received]]:
    out: list[list[Received]] = []
    seq = 0
    now = datetime.now(UTC)
    for b in range(args.batches):
        batch: list[Received] = []
        for m in range(args.messages):
            platform, resource = codes[m % len(codes)]
            # Consecutive messages of one resource continue its clock: 1 s per sample.
            base = (b * (args.messages // len(codes) + 1) + m // len(codes)) * args.samples
            samples = []
            for i in range(args.samples):
                second = base + i
                state = STATES[(second // 120 + m) % len(STATES)]  # a state lasts 2 minutes
                samples.append(
                    {
                        "ts": T0_NS + second * 1_000_000_000,
                        "fields": {
                            "state": state,
                            "temp_c": 37.0 + i / 100,
                            "ph": 7.01,
                            "do_pct": 41.2,
                            "rpm": 400,
                        },
                    }
                )
            seq += 1
            body = json.dumps({"agent": f"bench-{resource}", "seq": seq, "samples": samples}).encode()
            batch.append(Received(telemetry_topic(platform, resource), body, seq, 0, now))
        out.append(batch)
    return out


def fresh_database(args: argparse.Namespace, workdir: Path, run: int) -> str:
    if args.database_url:
        downgrade(args.database_url, "base")
        url: str = args.database_url
    else:
        url = f"sqlite:///{workdir}/bench-{run}.db"
    upgrade(url)
    engine = make_engine(Settings(database_url=url))
    with unit_of_work(engine) as session:
        seed_demo(session, fleet_devices=args.resources)
    engine.dispose()
    return url


def one_run(url: str, work: list[list[Received]], with_usage: bool) -> dict[str, Any]:
    engine = make_engine(Settings(database_url=url))
    ingest = Ingest("mqtt://127.0.0.1:1", engine, StubWriter())  # type: ignore[arg-type]
    original = usage.record
    if not with_usage:
        ingest_service.usage.record = lambda *_a, **_k: 0  # type: ignore[assignment]
    try:
        ingest.process(work[0])  # warm-up: resolves codes, creates twins and cursors
        started, cpu = time.perf_counter(), time.process_time()
        for batch in work[1:]:
            ingest.process(batch)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        ingest_service.usage.record = original  # type: ignore[assignment]
        engine.dispose()
    samples = sum(len(json.loads(r.payload)["samples"]) for batch in work[1:] for r in batch)
    return {
        "samples": samples,
        "seconds": round(wall, 3),
        "samples_per_s": round(samples / wall),
        "cpu_s": round(cpu, 3),
        "usage_sessions_changed": ingest.stats.usage_sessions_changed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--samples", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL database to empty and use")
    args = parser.parse_args()
    data = demo_data()
    codes = [(data["platform"]["code"], code) for code, _ in fleet_codes(data, args.resources)]
    work = batches(codes, args)
    results: dict[str, list[dict[str, Any]]] = {"usage": [], "no-usage": []}
    with tempfile.TemporaryDirectory() as tmp:
        run = 0
        for _ in range(args.repeat):
            for case in ("no-usage", "usage"):
                url = fresh_database(args, Path(tmp), run)
                run += 1
                results[case].append(one_run(url, work, with_usage=case == "usage"))
    summary = {
        case: {
            "median_samples_per_s": statistics.median(r["samples_per_s"] for r in runs),
            "runs": runs,
        }
        for case, runs in results.items()
    }
    print(
        json.dumps(
            {
                "database": "postgresql" if args.database_url else "sqlite",
                "resources": len(codes),
                "batches": args.batches,
                "messages_per_batch": args.messages,
                "samples_per_message": args.samples,
                **summary,
            }
        )
    )


if __name__ == "__main__":
    main()
