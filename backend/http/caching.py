"""Conditional answers: an `ETag` on public JSON, and 304 when the client already holds that version;
and the few public answers a process may keep for a moment (`RecentAnswers`).

The tag is a hash of the answer itself, so every replica gives the same tag for the same content."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from functools import partial

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
    out only while that number is unchanged: any commit that wrote, begun or finished in this process,
    retires every answer read before it, so what a request of this process wrote is in the next answer
    this process gives (a transaction that only read retires nothing). A change written by another
    process (the other API workers, the CLI, the optimizer's runs elsewhere) is seen once the answer is
    `seconds` old.

    Requests that ask for the same key while its read is under way, with no commit since it began,
    wait for that read instead of starting their own: when a kept answer expires under load, one query
    replaces it, not one per waiting client. `seconds = 0` keeps nothing and reads for every request.
    """

    def __init__(self, seconds: float, size: int = 4096) -> None:
        self.seconds = seconds
        self.size = size
        self._answers: dict[Hashable, tuple[int, float, Tagged]] = {}
        self._reading: dict[Hashable, tuple[int, asyncio.Future[Tagged]]] = {}

    async def answer(self, key: Hashable, read: Callable[[], Awaitable[Tagged]]) -> Tagged:
        if self.seconds <= 0:
            return await read()
        commits = commits_seen()
        kept = self._answers.get(key)
        if kept is not None and kept[0] == commits and kept[1] >= time.monotonic():
            return kept[2]
        under_way = self._reading.get(key)
        if under_way is None or under_way[0] != commits:
            under_way = (commits, asyncio.ensure_future(read()))
            self._reading[key] = under_way
            under_way[1].add_done_callback(partial(self._done, key, commits, time.monotonic()))
        # shielded: a client that goes away does not cancel the read the others wait for
        return await asyncio.shield(under_way[1])

    def _done(self, key: Hashable, commits: int, began: float, read: asyncio.Future[Tagged]) -> None:
        if self._reading.get(key, (None, None))[1] is read:
            del self._reading[key]
        if read.cancelled() or read.exception() is not None:
            return
        kept = self._answers.get(key)
        if kept is not None and kept[0] > commits:
            return  # a read begun after a later commit has already filed its answer
        if len(self._answers) >= self.size:
            self._answers.clear()  # rare, and cheaper than tracking which one is oldest
        self._answers[key] = (commits, began + self.seconds, read.result())
