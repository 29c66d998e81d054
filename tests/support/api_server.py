"""A real `pilotshare api` process on a free loopback port, for tests that need a running server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.mosquitto import free_port
from tests.support.processes import stop_process


@contextmanager
def running_api(database_url: str, secret_key: str, **env: str) -> Iterator[str]:
    """Yield the base URL of an API serving `database_url` (already migrated); stop it afterwards."""
    port = free_port()
    full_env = {
        **os.environ,
        "PILOTSHARE_DATABASE_URL": database_url,
        "PILOTSHARE_SECRET_KEY": secret_key,
        "PILOTSHARE_BACKGROUND_SECONDS": "0",
        "PILOTSHARE_LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen([sys.executable, "-m", "pilotshare", "api", "--port", str(port)], env=full_env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the API process died while starting"
            assert time.monotonic() < deadline, "the API did not become ready in 30 s"
            time.sleep(0.2)
        yield base
    finally:
        stop_process(process, timeout=15)
