"""ASGI middleware of the HTTP delivery layers: a request id for every request, and request counters."""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

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
