"""Conditional answers: an `ETag` on public JSON, and 304 when the client already holds that version;
and the few public answers a process may keep for a moment (`RecentAnswers`).

The tag is a hash of the answer itself, so every replica gives the same tag for the same content."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Hashable
from dataclasses import dataclass

from fastapi import Request, Response

from backend.db import commits_seen


@dataclass(frozen=True)
class Tagged:
    body: bytes
    tag: str


def tagged(body: bytes) -> Tagged:
    return Tagged(body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')


def conditional(
    request: Request, answer: bytes | Tagged, cache: str, media_type: str = "application/json"
) -> Response:
    answer = answer if isinstance(answer, Tagged) else tagged(answer)
    headers = {"ETag": answer.tag, "Cache-Control": cache}
    held = request.headers.get("if-none-match", "")
    if answer.tag in (t.strip() for t in held.split(",")) or held.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type=media_type, headers=headers)


class RecentAnswers:
    """Answers of a public read, kept in this process for at most `seconds`.

    Each answer is filed with `backend.db.commits_seen()` as it was *before* its query ran, and is given
    out only while that number is unchanged: any commit this process begins or finishes retires every
    answer read before it, so what a request of this process wrote is in the next answer this process
    gives. A change written by another process (the other API workers, the CLI, the optimizer's
    runs elsewhere) is seen once the answer is `seconds` old. `seconds = 0` keeps nothing.
    """

    def __init__(self, seconds: float, size: int = 4096) -> None:
        self.seconds = seconds
        self.size = size
        self._answers: dict[Hashable, tuple[int, float, Tagged]] = {}

    def get(self, key: Hashable) -> Tagged | None:
        kept = self._answers.get(key)
        if kept is None or kept[0] != commits_seen() or kept[1] < time.monotonic():
            return None
        return kept[2]

    @staticmethod
    def before_reading() -> tuple[int, float]:
        """Taken before the query whose answer is then `put`: its commit count and its age start there."""
        return commits_seen(), time.monotonic()

    def put(self, key: Hashable, answer: Tagged, read: tuple[int, float]) -> None:
        if self.seconds <= 0:
            return
        if len(self._answers) >= self.size:
            self._answers.clear()  # rare, and cheaper than tracking which one is oldest
        commits, began = read
        self._answers[key] = (commits, began + self.seconds, answer)
