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


#: Passwords people pick first; refused whatever their length (compared without case).
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "87654321",
        "11111111",
        "88888888",
        "qwertyui",
        "qwerty123",
        "abc12345",
        "abcd1234",
        "iloveyou",
        "admin123",
        "welcome1",
        "pilotshare",
        "a1234567",
        "woaini1314",
    }
)
MIN_PASSWORD_LENGTH = 8
MIN_DISTINCT_CHARACTERS = 5


def password_weakness(new: str, current: str, email: str) -> str | None:
    """What is wrong with `new` as someone's next password, or None: long enough, not the current one,
    not one of the first guesses, not the e-mail's name, not a few characters repeated."""
    if len(new) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if new == current:
        return "must differ from the current password"
    lowered = new.lower()
    name = email.split("@", 1)[0].lower()
    if lowered in COMMON_PASSWORDS or (len(name) >= 3 and name in lowered):
        return "too easy to guess (a common password or your e-mail's name)"
    if len(set(new)) < MIN_DISTINCT_CHARACTERS:
        return f"use at least {MIN_DISTINCT_CHARACTERS} different characters"
    return None
