"""Polling for a condition in integration tests, failing with what was awaited and the last answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: the first look again comes soon (most conditions hold within milliseconds); later ones back off to the
#: longest pause, so a slow condition is not polled harder than before
FIRST_PAUSE_S, LONGEST_PAUSE_S = 0.005, 0.1


def eventually(check: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    pause = FIRST_PAUSE_S
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {result!r}")
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE_S)
