"""A real InfluxDB 1.x (`influxd`) per test module, on free ports, for integration tests.

Import the fixtures by name into a conftest.py::

    from tests.support.influxdb import influxdb, influxdb_module  # noqa: F401

``influxdb_session`` (session scope, for tests that only need a store to answer), ``influxdb_module``
(module scope) and ``influxdb`` (function scope) give an :class:`InfluxServer` with
``url``, ``stop()``, ``start()`` and ``query(q, db)``. The server gets its own temporary config with
meta/data/wal directories, reporting disabled and both the HTTP and the RPC bind address on free
ports. The binary is ``/usr/bin/influxd`` or ``$INFLUXD_BIN``; a missing binary fails the test with
a message saying how to install it (``make test`` does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mosquitto import free_port
from tests.support.processes import stop_process


def _binary() -> str | None:
    env = os.environ.get("INFLUXD_BIN")
    if env:
        return env
    if os.access("/usr/bin/influxd", os.X_OK):
        return "/usr/bin/influxd"
    return shutil.which("influxd")


class InfluxServer:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.rpc_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "influxd.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        conf = self.workdir / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{self.workdir}/meta"

[data]
  dir = "{self.workdir}/data"
  wal-dir = "{self.workdir}/wal"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
"""
        )
        return conf

    def start(self, timeout: float = 20.0) -> None:
        conf = self._write_config()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([self.binary, "-config", str(conf)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"influxd exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"influxd did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, timeout=10)
        self.proc = None

    def query(self, q: str, db: str) -> list[dict[str, Any]]:
        """The series of one InfluxQL statement (an empty list when nothing matches)."""
        response = httpx.get(f"{self.url}/query", params={"q": q, "db": db}, timeout=10)
        response.raise_for_status()
        result = response.json()["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        series: list[dict[str, Any]] = result.get("series", [])
        return series


def _server() -> Iterator[InfluxServer]:
    binary = _binary()
    if binary is None:
        pytest.fail(
            "influxd not found: install Debian's `influxdb` package (`make test` does) or set INFLUXD_BIN",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(prefix="influxd-") as tmp:
        server = InfluxServer(binary, Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def influxdb() -> Iterator[InfluxServer]:
    yield from _server()


@pytest.fixture(scope="module")
def influxdb_module() -> Iterator[InfluxServer]:
    yield from _server()


@pytest.fixture(scope="session")
def influxdb_session() -> Iterator[InfluxServer]:
    yield from _server()
