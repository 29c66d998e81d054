"""A real Mosquitto broker per test (or per module), on a free port, for integration tests.

Use it by importing the fixtures by name into a conftest.py (or a test module)::

    # tests/integration/<area>/conftest.py
    from tests.support.mosquitto import mosquitto, mosquitto_url  # noqa: F401

(``pytest_plugins = ["tests.support.mosquitto"]`` works too, but only in the rootdir conftest.py.)

    @pytest.mark.integration
    def test_x(mosquitto_url: str) -> None:   # "mqtt://127.0.0.1:PORT"
        ...

Fixtures: ``mosquitto`` (a :class:`MosquittoBroker` with ``url``, ``host``, ``port``, ``stop()`` and
``restart()`` — the same port, to test reconnects) and ``mosquitto_url`` (just the URL); both are
function-scoped. ``mosquitto_module`` is module-scoped for suites that can share one broker.
The broker gets its own temporary config, persistence dir and log; the binary is ``/usr/sbin/mosquitto``
or ``$MOSQUITTO_BIN``. Tests are skipped (not failed) when no mosquitto binary exists.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import stop_process


def _binary() -> str | None:
    env = os.environ.get("MOSQUITTO_BIN")
    if env:
        return env
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mosquitto")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class MosquittoBroker:
    def __init__(self, binary: str, workdir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {data}/",
                    f"log_dest file {self.log_path}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "max_queued_messages 100000",
                    "max_inflight_messages 0",
                    # Started as root, Mosquitto drops to the 'mosquitto' user, which cannot write this
                    # temporary folder: persistence (sessions kept across .restart()) would silently fail.
                    f"user {getpass.getuser()}",
                    "",
                ]
            )
        )
        return conf

    def start(self, timeout: float = 10.0) -> None:
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err} {log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _broker() -> Iterator[MosquittoBroker]:
    binary = _binary()
    if binary is None:
        pytest.skip("mosquitto binary not found (set MOSQUITTO_BIN)")
    with tempfile.TemporaryDirectory(prefix="mosquitto-") as tmp:
        broker = MosquittoBroker(binary, Path(tmp))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    yield from _broker()


@pytest.fixture
def mosquitto_url(mosquitto: MosquittoBroker) -> str:
    return mosquitto.url


@pytest.fixture(scope="module")
def mosquitto_module() -> Iterator[MosquittoBroker]:
    yield from _broker()
