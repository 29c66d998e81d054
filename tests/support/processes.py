"""Stopping the service processes that test fixtures start."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL: a wedged server never hangs the test run."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
