"""Ingest's repair thread: the fault episodes a batch opened are handed here after the batch commits,
and each gets its repair proposal (`backend.services.scheduling.fault_repairs`) without holding up the
stream, since a repair runs the solver for a few seconds. Episodes whose worker died before proposing
are picked up by a sweep (at start and every few minutes); the database keeps one proposal per episode.
"""

from __future__ import annotations

import queue
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
            self._propose(fault_id)

    def _propose(self, fault_id: int) -> None:
        try:
            fault_repairs.propose_for_fault(self.engine, fault_id, time_limit=self.time_limit)
        except Exception:  # the stream goes on; the sweep tries again later
            log.exception("ingest.fault_repair_failed", fault_id=fault_id)
