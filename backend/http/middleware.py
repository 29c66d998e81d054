"""ASGI middleware of the HTTP delivery layers: a request id for every request, request counters, and
the refusal of NUL characters in any input."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class RequestStats:
    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    seconds: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    started: float = field(default_factory=time.time)


class RequestObserver:
    """Pure ASGI middleware: a request id for every request (logs and `x-request-id`), and counters.

    Written against ASGI directly rather than as an `@app.middleware("http")` function, which wraps
    every request in extra tasks and streams and costs a visible share of a short request.
    """

    def __init__(self, app: ASGIApp, stats: RequestStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.clear_contextvars()
            path = _template(scope)
            self.stats.counts[(scope["method"], path, status)] += 1
            self.stats.seconds[(scope["method"], path)] += time.perf_counter() - began


def install_request_observer(app: FastAPI) -> None:
    app.state.request_stats = stats = RequestStats()
    app.add_middleware(RequestObserver, stats=stats)


def _template(scope: Scope) -> str:
    """The route's path with its parameters named (`/api/v1/bookings/{booking_id}`): few label values."""
    if "route" not in scope:
        return "unmatched"
    names = {str(v): k for k, v in scope.get("path_params", {}).items()}
    return "/".join(f"{{{names[s]}}}" if s in names else s for s in scope["path"].split("/"))


NUL_MESSAGE = "contains a NUL character"


class NulGuard:
    """Refuses a request whose path, query or body carries a NUL character, with the 422 that names the
    field, as for any other bad input. PostgreSQL cannot store NUL in text and would fail the request
    deep inside; no field of this API has a use for it, so it is refused once, here, for every route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _nul_in_url(scope)
        if field is None and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            body, receive = await _buffered(receive)
            field = _nul_in_body(body, dict(scope.get("headers") or []).get(b"content-type", b""))
        if field is None:
            await self.app(scope, receive, send)
            return
        error = {"field": field, "message": NUL_MESSAGE}
        payload = json.dumps({"detail": f"{field}: {NUL_MESSAGE}", "errors": [error]}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 422, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope["path"]:
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "") or "query"
        return "query"
    return None


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it to the app as if it had not been read."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive  # the client went away; let the app see it
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _nul_in_body(body: bytes, content_type: bytes) -> str | None:
    if content_type.startswith(b"application/x-www-form-urlencoded") and b"%00" in body:
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "") or "body"
    if b"\\u0000" in body:
        try:
            return _nul_in_json(json.loads(body), ())
        except ValueError:
            return None  # not JSON: the route's own parsing answers
    return None


def _nul_in_json(value: Any, where: tuple[str, ...]) -> str | None:
    if isinstance(value, str):
        return ".".join(where) or "body" if "\x00" in value else None
    items: Any = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return ".".join(where) or "body"
        found = _nul_in_json(item, (*where, str(key)))
        if found:
            return found
    return None


def install_nul_guard(app: FastAPI) -> None:
    app.add_middleware(NulGuard)
