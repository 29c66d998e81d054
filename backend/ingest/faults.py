"""Ingest's repair thread: the fault episodes a batch opened are handed here after the batch commits,
and each gets its repair proposal (`backend.services.scheduling.fault_repairs`) without holding up the
stream. Episodes whose worker died before proposing are picked up by a sweep (at start and every few
minutes); the database keeps one proposal per episode.

Each repair runs in a short-lived child process (`python -m backend.ingest.faults FAULT_ID`): the solver
(OR-Tools) adds about 100 MB to a process that loads it, and an ingest worker's memory stays bounded
(docs/ingest.md). The child's log lines go to ingest's stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy.engine import Engine

from backend.logs import get_logger
from backend.models.types import utcnow
from backend.services.scheduling import fault_repairs

log = get_logger("pilotshare.ingest")

SWEEP_SECONDS = 300.0
#: an episode this old without a proposal lost its worker
ORPHANED_AFTER = timedelta(minutes=2)
#: a child that has not answered by then is stopped; the sweep tries its episode again later
CHILD_TIMEOUT_S = 300.0
_STOP = -1


class FaultRepairs:
    def __init__(self, engine: Engine, sweep_seconds: float = SWEEP_SECONDS, time_limit: float = 5.0) -> None:
        self.engine = engine
        self.sweep_seconds = sweep_seconds
        self.time_limit = time_limit
        self._queue: queue.Queue[int] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ingest-repairs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, fault_ids: Iterable[int]) -> None:
        for fault_id in fault_ids:
            self._queue.put(fault_id)

    def _run(self) -> None:
        self._sweep()
        while not self._stopping.is_set():
            try:
                fault_id = self._queue.get(timeout=self.sweep_seconds)
            except queue.Empty:
                self._sweep()
                continue
            if fault_id != _STOP:
                self._propose(fault_id)

    def _sweep(self) -> None:
        try:
            orphans = fault_repairs.unproposed_faults(self.engine, utcnow() - ORPHANED_AFTER)
        except Exception:
            log.exception("ingest.fault_sweep_failed")
            return
        for fault_id in orphans:
            if self._stopping.is_set():
                return
            self._propose(fault_id)

    def _propose(self, fault_id: int) -> None:
        env = {**os.environ, "PILOTSHARE_DATABASE_URL": self.engine.url.render_as_string(hide_password=False)}
        command = [
            sys.executable,
            "-m",
            "backend.ingest.faults",
            str(fault_id),
            "--time-limit",
            str(self.time_limit),
        ]
        try:
            done = subprocess.run(
                command, env=env, stdout=subprocess.PIPE, text=True, timeout=CHILD_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("ingest.fault_repair_failed", fault_id=fault_id, error=str(exc)[:300])
            return
        if done.returncode != 0:
            log.error("ingest.fault_repair_failed", fault_id=fault_id, exit_code=done.returncode)
            return
        log.info("ingest.fault_repair", **json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    """The child: propose (and by the platform's policy apply) the repair of one fault episode."""
    from backend.db import make_engine
    from backend.logs import configure_logging
    from backend.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("fault_id", type=int)
    parser.add_argument("--time-limit", type=float, default=5.0)
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    engine = make_engine(settings)
    try:
        proposal = fault_repairs.propose_for_fault(engine, args.fault_id, time_limit=args.time_limit)
    finally:
        engine.dispose()
    summary = {
        "fault_id": args.fault_id,
        "repair_id": proposal.id if proposal else None,
        "status": str(proposal.status) if proposal else "proposed elsewhere",
        "moves": len(proposal.moves) if proposal else 0,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
