"""The project's own batched writer for InfluxDB's v1 HTTP API (`POST /write`, InfluxQL on `/query`).

Callers hand over line-protocol lines with `submit`; one thread sends them in batches (by size and
by time). What it guarantees:

- the queue is bounded (`submit` waits while it is full), so a slow or absent server slows the
  producer down instead of growing memory;
- 5xx answers and connection errors are retried with exponential back-off until they succeed
  (or the writer is stopped), so nothing is lost while the server is away;
- a 400/413 is about the points, not the server: the batch is split in halves until the bad lines
  are alone; each is logged with the server's reason and dropped, and every good line is written.
  Rewriting a point is idempotent in InfluxDB, so sending the good half twice is harmless;
- each submission's `done` callback runs once its lines were written (or dropped as bad), which is
  when ingest acknowledges the MQTT messages they came from.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import httpx
import msgspec

from backend.domain.errors import Unavailable
from backend.logs import get_logger

log = get_logger("pilotshare.ingest.influx")

MEASUREMENT = "telemetry"
FieldValue = bool | int | float | str


def _as_written(value: FieldValue) -> FieldValue:
    """Integers are written as floats: a signal that is 20 in one sample and 20.5 in the next must
    not become a field type conflict that InfluxDB refuses."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


# The escapes of influxdb_client's Point (client/write/point.py), so that `telemetry_lines` gives the
# same bytes; tests/unit/backend/test_line_protocol.py compares the two on hostile names and values.
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


@lru_cache(maxsize=16384)
def _series_prefix(platform: str, resource: str) -> str:
    tags = []
    for key, value in (("platform", platform), ("resource", resource)):
        escaped = value.translate(_ESCAPE_KEY)
        if escaped.endswith("\\"):
            escaped += " "
        if escaped:
            tags.append(f"{key}={escaped}")
    return f"{MEASUREMENT}{',' if tags else ''}{','.join(tags)} "


@lru_cache(maxsize=65536)
def _field_key(name: str) -> str:
    return name.translate(_ESCAPE_KEY)


def _field_value(value: FieldValue) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float: no line protocol number holds it
            return None
        if not math.isfinite(number):
            return None
        text = str(number)
        return text[:-2] if text.endswith(".0") else text
    return '"' + value.translate(_ESCAPE_STRING) + '"'


@lru_cache(maxsize=4096)
def _field_order(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, escaped name and '=') in Point's order, for one set of field names (a device sends the same
    names in the same order sample after sample, so this is computed once per device type)."""
    return tuple((name, _field_key(name) + "=") for name in sorted(names))


#: a field set as JSON with its keys sorted (Point's order): msgspec writes what line protocol needs
_SORTED_JSON = msgspec.json.Encoder(order="sorted").encode
#: a whole number too long for any float: Point leaves such a field out
_HUGE = re.compile(r"\d{309}")


@lru_cache(maxsize=4096)
def _plain(names: tuple[str, ...]) -> bool:
    """True when no field name needs line protocol's escapes."""
    return all(_field_key(name) == name for name in names)


def _fields_at_once(fields: Mapping[str, FieldValue]) -> str | None:
    """The fields part of a line from msgspec's JSON of the fields, or None where it would not hold the
    values Point writes: JSON for `{"a":1.5,"s":"x"}` is `a=1.5,s="x"` once the keys lose their quotes.
    Anything escaped (JSON and line protocol escape differently), a value that is no finite number
    (`null`), an integer beyond any float, or a name needing line protocol's escapes goes value by value.
    The numbers' text may differ from Point's (`20.0` for `20`, `1e16` for `1e+16`); InfluxDB reads the
    same float from both."""
    text = _SORTED_JSON(fields).decode()
    if "\\" in text or ":null" in text or (len(text) > 300 and _HUGE.search(text)):
        return None
    if text.count(',"') != len(fields) - 1 or text.count('":') != len(fields) or not _plain(tuple(fields)):
        return None  # a string ending in a comma or starting with a colon: its quote would pass for a name's
    return text[2:-1].replace('":', "=").replace(',"', ",")


def _fields_one_by_one(fields: Mapping[str, FieldValue]) -> str:
    parts = []
    for name, key in _field_order(tuple(fields)):
        value = fields[name]
        kind = type(value)
        if kind is float:
            text = repr(value)
            if text[-2:] == ".0":
                text = text[:-2]
            elif text[-1] in "nf":  # nan, inf: no line protocol number holds them
                continue
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is str:
            text = '"' + value.translate(_ESCAPE_STRING) + '"'  # type: ignore[union-attr]
        else:
            text = _field_value(value)  # type: ignore[assignment]
            if text is None:
                continue
        parts.append(key + text)
    return ",".join(parts)


def telemetry_lines(
    platform: str, resource: str, points: Iterable[tuple[int, Mapping[str, FieldValue]]]
) -> list[str]:
    """Lines of the `telemetry` measurement for samples of one resource: the points influxdb_client's
    Point gives (tests/unit/backend/test_line_protocol.py compares them), about three times as fast as
    writing value by value: ingest's hottest function."""
    prefix = _series_prefix(platform, resource)
    lines = []
    for ts_ns, fields in points:
        body = _fields_at_once(fields)
        if body is None:
            body = _fields_one_by_one(fields)
        if body:
            lines.append(f"{prefix}{body} {ts_ns}")
    return lines


def telemetry_line(platform: str, resource: str, ts_ns: int, fields: dict[str, FieldValue]) -> str:
    """One line of the `telemetry` measurement (docs/architecture.md, "InfluxDB"); "" when no field can be
    written."""
    lines = telemetry_lines(platform, resource, [(ts_ns, fields)])
    return lines[0] if lines else ""


class InfluxError(RuntimeError):
    pass


class BadPoints(InfluxError):
    """The server refused the points themselves (400/413): sending them again will not help."""


@dataclass
class WriterStats:
    lines_written: int = 0
    lines_dropped: int = 0
    batches: int = 0
    retries: int = 0
    last_error: str | None = None


@dataclass
class _Submission:
    lines: list[str]
    done: Callable[[], None] | None = None


@dataclass
class _Batch:
    lines: list[str] = field(default_factory=list)
    callbacks: list[Callable[[], None]] = field(default_factory=list)


class InfluxClient:
    """Plain requests against the v1 API: write one body, run one InfluxQL statement."""

    def __init__(self, url: str, database: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.database = database
        headers = {"Authorization": f"Token {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def write(self, lines: list[str]) -> None:
        """Raises BadPoints on 400/413, InfluxError on anything else that is not a success."""
        response = self.http.post(
            "/write",
            params={"db": self.database, "precision": "ns"},
            content="\n".join(lines).encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        if response.status_code in (200, 204):
            return
        reason = _reason(response)
        if response.status_code in (400, 413):
            raise BadPoints(reason)
        raise InfluxError(f"HTTP {response.status_code}: {reason}")

    def query(self, q: str, *, write: bool = False, epoch: str | None = None) -> list[dict[str, Any]]:
        """Results of one InfluxQL statement (`write` for statements that change something)."""
        params = {"q": q, "db": self.database}
        if epoch:
            params["epoch"] = epoch
        response = self.http.post("/query", data=params) if write else self.http.get("/query", params=params)
        if response.status_code != 200:
            raise InfluxError(f"HTTP {response.status_code}: {_reason(response)}")
        results: list[dict[str, Any]] = response.json().get("results", [])
        for result in results:
            if "error" in result:
                raise InfluxError(str(result["error"]))
        return results

    def ensure_database(self) -> bool:
        """Create the database unless it exists; True when it was created."""
        results = self.query("SHOW DATABASES")
        names = {row[0] for series in results[0].get("series", []) for row in series.get("values", [])}
        if self.database in names:
            return False
        self.query(f"CREATE DATABASE {quote_identifier(self.database)}", write=True)
        return True


@contextmanager
def store_errors() -> Iterator[None]:
    """InfluxDB's refusals and outages inside the block as the domain's `Unavailable` (503), saying which."""
    try:
        yield
    except InfluxError as exc:
        raise Unavailable(f"telemetry store answered: {exc}") from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"telemetry store is unreachable: {exc}") from None


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text.strip()[:500]


def quote_identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxWriter:
    def __init__(
        self,
        client: InfluxClient,
        *,
        batch_lines: int = 5000,
        flush_seconds: float = 0.5,
        # Lines (about 0.3 kB each) waiting for InfluxDB: they absorb its pauses more cheaply than decoded
        # batches (about 1.1 kB a sample) would; ingest's worker stayed below 300 MB with 60,000 (and
        # drained 10 % faster than with 40,000; docs/performance.md).
        max_queue_lines: int = 60_000,
        backoff_start: float = 0.2,
        backoff_max: float = 10.0,
    ) -> None:
        self.client = client
        self.batch_lines = batch_lines
        self.flush_seconds = flush_seconds
        self.max_queue_lines = max_queue_lines
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.stats = WriterStats()
        self._queue: deque[_Submission] = deque()
        self._queued_lines = 0
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ producer side

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="influx-writer", daemon=True)
        self._thread.start()

    def submit(self, lines: Iterable[str], done: Callable[[], None] | None = None) -> None:
        """Queue lines; waits while the queue is full. `done` runs once they are written."""
        batch = list(lines)
        with self._cond:
            while self._queued_lines > 0 and self._queued_lines + len(batch) > self.max_queue_lines:
                if self._stopping:
                    raise InfluxError("writer is stopping")
                self._cond.wait(0.5)
            self._queue.append(_Submission(batch, done))
            self._queued_lines += len(batch)
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return self._queued_lines

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far was written; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.1 if remaining is None else min(remaining, 0.1))
        return True

    def stop(self, timeout: float = 10.0) -> bool:
        """Flush (up to `timeout`), then end the thread; False when lines were left unwritten."""
        flushed = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.backoff_max + 5)
        if not flushed:
            log.error("influx.stop_unflushed", lines=self.pending())
        return flushed

    # ------------------------------------------------------------------ writer thread

    def _next_batch(self) -> _Batch | None:
        with self._cond:
            first_seen = time.monotonic()
            while not self._stopping:
                if self._queued_lines >= self.batch_lines:
                    break
                if self._queue and time.monotonic() - first_seen >= self.flush_seconds:
                    break
                if not self._queue:
                    first_seen = time.monotonic()
                self._cond.wait(self.flush_seconds / 4 if self._queue else 0.5)
            if not self._queue:
                return None
            batch = _Batch()
            while self._queue and (
                not batch.lines or len(batch.lines) + len(self._queue[0].lines) <= self.batch_lines
            ):
                item = self._queue.popleft()
                self._queued_lines -= len(item.lines)
                batch.lines.extend(item.lines)
                if item.done is not None:
                    batch.callbacks.append(item.done)
            self._busy = True
            self._cond.notify_all()
            return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                if self._stopping:
                    return
                continue
            try:
                if self._write_until_done(batch.lines):
                    for callback in batch.callbacks:
                        try:
                            callback()
                        except Exception:
                            log.exception("influx.callback_failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_until_done(self, lines: list[str]) -> bool:
        """Write `lines`, retrying server trouble; False only when stopped before it succeeded."""
        delay = self.backoff_start
        while True:
            try:
                self._write_splitting_bad(lines)
                self.stats.batches += 1
                return True
            except (InfluxError, httpx.HTTPError) as exc:
                self.stats.retries += 1
                self.stats.last_error = str(exc)
                if "database not found" in str(exc):
                    self._try_create_database()
                log.warning(
                    "influx.retry", error=str(exc)[:300], lines=len(lines), in_seconds=round(delay, 2)
                )
                with self._cond:
                    if self._stopping:
                        return False
                    self._cond.wait(delay)
                delay = min(delay * 2, self.backoff_max)

    def _try_create_database(self) -> None:
        try:
            self.client.ensure_database()
        except (InfluxError, httpx.HTTPError) as exc:
            log.warning("influx.create_database_failed", error=str(exc)[:300])

    def _write_splitting_bad(self, lines: list[str]) -> None:
        try:
            self.client.write(lines)
            self.stats.lines_written += len(lines)
        except BadPoints as exc:
            if len(lines) == 1:
                self.stats.lines_dropped += 1
                log.error("influx.bad_point_dropped", reason=str(exc)[:500], line=lines[0][:300])
                return
            half = len(lines) // 2
            self._write_splitting_bad(lines[:half])
            self._write_splitting_bad(lines[half:])
