"""Disk buffer of outgoing messages: nothing is lost across a broker outage or an agent restart.

Every telemetry, event and ack message is written here (one SQLite row, committed) *before* it is handed
to MQTT, and deleted only when the broker's PUBACK for it arrives. After a reconnect or a restart the rows
still present are published again in insertion order, so delivery is at least once (ingest's writes are
idempotent, so a repeat costs nothing).

The telemetry ``seq`` counter lives in the same file and is advanced in the same transaction as the row
that uses it, so it keeps increasing across restarts even when the buffer is empty.

The buffer is bounded: when the stored payloads exceed ``max_bytes``, the oldest rows are dropped first
and the dropped messages and samples are counted and logged.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    samples INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Row:
    id: int
    topic: str
    payload: bytes
    samples: int


class DiskBuffer:
    def __init__(self, path: Path, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        # the agent's event loop is the only user; check_same_thread off for the shutdown path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash; only an OS crash may lose the last commits
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0), COUNT(*) FROM outbox").fetchone()
        self.bytes: int = row[0]
        self.count: int = row[1]
        self.dropped_messages = 0
        self.dropped_samples = 0

    # ------------------------------------------------------------------ writing

    def next_seq(self) -> int:
        """The telemetry seq the next :meth:`append_with_seq` will use."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return int(row[0]) if row else 0

    def append(self, topic: str, payload: bytes, samples: int = 0) -> int:
        """Store one message; returns its row id."""
        return self.append_with_seq(topic, lambda _seq: payload, samples, uses_seq=False)

    def append_with_seq(
        self, topic: str, build: Callable[[int], bytes], samples: int = 0, uses_seq: bool = True
    ) -> int:
        """Build the payload for the next seq, store it and advance seq in one transaction."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
            seq = int(row[0]) if row else 0
            payload = build(seq)
            cur = self._db.execute(
                "INSERT INTO outbox (topic, payload, samples) VALUES (?, ?, ?)", (topic, payload, samples)
            )
            if uses_seq:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('next_seq', ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (seq + 1,),
                )
        self.bytes += len(payload)
        self.count += 1
        self._enforce_cap()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _enforce_cap(self) -> None:
        if self.bytes <= self.max_bytes:
            return
        dropped = dropped_bytes = dropped_samples = 0
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for row_id, size, samples in self._db.execute(
                "SELECT id, LENGTH(payload), samples FROM outbox ORDER BY id"
            ).fetchall():
                if self.bytes - dropped_bytes <= self.max_bytes or self.count - dropped <= 1:
                    break
                self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                dropped += 1
                dropped_bytes += size
                dropped_samples += samples
        self.bytes -= dropped_bytes
        self.count -= dropped
        self.dropped_messages += dropped
        self.dropped_samples += dropped_samples
        log.warning(
            "buffer full (%d bytes cap): dropped the %d oldest message(s) with %d sample(s);"
            " %d message(s) / %d sample(s) dropped since start",
            self.max_bytes,
            dropped,
            dropped_samples,
            self.dropped_messages,
            self.dropped_samples,
        )

    # ------------------------------------------------------------------ reading and acknowledging

    def after(self, row_id: int, limit: int) -> list[Row]:
        """Up to ``limit`` rows with an id above ``row_id``, oldest first."""
        rows = self._db.execute(
            "SELECT id, topic, payload, samples FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (row_id, limit)
        ).fetchall()
        return [Row(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def remove(self, row_ids: list[int]) -> None:
        """Forget rows the broker acknowledged (ids already dropped are ignored)."""
        if not row_ids:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for row_id in row_ids:
                cur = self._db.execute("DELETE FROM outbox WHERE id = ? RETURNING LENGTH(payload)", (row_id,))
                hit = cur.fetchone()
                if hit is not None:
                    self.bytes -= hit[0]
                    self.count -= 1

    def close(self) -> None:
        self._db.close()
