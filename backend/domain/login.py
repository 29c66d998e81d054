"""Login throttling: how long a caller must wait, given the failed attempts already recorded."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta


def wait_before_next(failures: Iterable[datetime], limit: int, window: timedelta, now: datetime) -> float:
    """Seconds until another attempt may be made (0: now), when at most `limit` failures may fall in
    any `window`: the attempt must wait until enough of the recent failures have left the window."""
    recent = sorted(at for at in failures if at > now - window)
    if len(recent) < limit:
        return 0.0
    frees_a_place = recent[len(recent) - limit] + window
    return max((frees_a_place - now).total_seconds(), 0.0)
