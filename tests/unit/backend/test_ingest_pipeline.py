"""Ingest's two threads: the worker decodes the next batch while the store thread writes the last one
into the SQL database; a batch's points go to InfluxDB once its rows are committed, and it is
acknowledged once they are written, never when its rows could not be stored."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine

from backend.ingest.service import Digest, Ingest, Received
from tests.support.waiting import eventually


class InstantWriter:
    """Keeps the lines and says they are written at once."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def start(self) -> None: ...

    def stop(self, timeout: float = 0) -> None: ...

    def submit(self, lines: list[str], done: Callable[[], None] | None = None) -> None:
        self.lines.extend(lines)
        if done is not None:
            done()


class FakeStore:
    """Stands in for the SQL step: the first batch fails, later ones wait until released."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def __call__(self, digest: Digest) -> None:
        self.calls.append(digest.lines)
        if len(self.calls) == 1:
            raise RuntimeError("the database refused the batch")
        assert self.release.wait(20)


@pytest.fixture
def ingest() -> Iterator[tuple[Ingest, FakeStore, list[int]]]:
    writer = InstantWriter()
    service = Ingest(
        "mqtt://127.0.0.1:1",
        create_engine("sqlite://"),
        writer,  # type: ignore[arg-type]
        repair_faults=False,
    )
    store, acked = FakeStore(), []
    service.digest = lambda batch: Digest(lines=[item.payload.decode() for item in batch])  # type: ignore[method-assign]
    service.store = store  # type: ignore[method-assign]
    service._ack = lambda acks: acked.extend(mid for mid, _ in acks)  # type: ignore[method-assign]
    threads = [threading.Thread(target=service._work), threading.Thread(target=service._store_work)]
    for thread in threads:
        thread.start()
    yield service, store, acked
    store.release.set()
    service._stopping.set()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)


def message(mid: int) -> Received:
    return Received("pilotshare/v1/p/r/telemetry", f"line {mid}".encode(), mid, 1, datetime.now(UTC))


def test_a_batch_is_written_and_acknowledged_after_its_rows_are_committed_never_when_they_failed(
    ingest: tuple[Ingest, FakeStore, list[int]],
) -> None:
    service, store, acked = ingest
    written: list[str] = service.influx.lines  # type: ignore[attr-defined]
    service._queue.put(message(1))
    eventually(lambda: len(store.calls) == 1, what="the first batch to reach the store")
    service._queue.put(message(2))
    eventually(lambda: len(store.calls) == 2, what="the second batch to reach the store")
    # its rows are not committed yet: neither written nor acknowledged, nor is the failed first batch
    assert (written, acked) == ([], [])
    service._queue.put(message(3))  # decoded meanwhile, waiting for the store thread
    eventually(lambda: service._digests.qsize() == 1, what="the next batch decoded while one is stored")
    store.release.set()
    eventually(lambda: acked == [2, 3], what="batches 2 and 3 acknowledged")
    assert written == ["line 2", "line 3"]
    assert store.calls == [["line 1"], ["line 2"], ["line 3"]]
