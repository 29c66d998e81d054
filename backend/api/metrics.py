"""Prometheus text exposition: this process's request counters and the database's business gauges.

Request counters are per process, as Prometheus expects of every scraped replica; the gauges come
from the shared database, so every replica reports the same values for them.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.deps import SessionDep
from backend.models.booking import Booking, OutboxMessage
from backend.models.resource import Resource

router = APIRouter(tags=["health"])


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


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _gauges(session: Session) -> list[str]:
    lines = [
        "# HELP pilotshare_bookings Bookings by status (lines count once).",
        "# TYPE pilotshare_bookings gauge",
    ]
    for status, n in session.exec(
        select(Booking.status, func.count()).where(col(Booking.parent_id).is_(None)).group_by(Booking.status)
    ).all():
        lines.append(f'pilotshare_bookings{{status="{_label(status)}"}} {n}')
    lines += [
        "# HELP pilotshare_outbox_messages Notifications by delivery status.",
        "# TYPE pilotshare_outbox_messages gauge",
    ]
    for status, n in session.exec(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all():
        lines.append(f'pilotshare_outbox_messages{{status="{_label(status)}"}} {n}')
    lines += [
        "# HELP pilotshare_resources Resources by kind and status.",
        "# TYPE pilotshare_resources gauge",
    ]
    for kind, status, n in session.exec(
        select(Resource.kind, Resource.status, func.count()).group_by(Resource.kind, Resource.status)
    ).all():
        lines.append(f'pilotshare_resources{{kind="{_label(kind)}",status="{_label(status)}"}} {n}')
    return lines


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, session: SessionDep) -> PlainTextResponse:
    stats: RequestStats = request.app.state.request_stats
    lines = [
        "# HELP pilotshare_http_requests_total HTTP requests served by this process.",
        "# TYPE pilotshare_http_requests_total counter",
    ]
    for (method, path, code), n in sorted(stats.counts.items()):
        lines.append(
            f'pilotshare_http_requests_total{{method="{method}",route="{_label(path)}",status="{code}"}} {n}'
        )
    lines += [
        "# HELP pilotshare_http_request_seconds_total Time spent serving requests, by route.",
        "# TYPE pilotshare_http_request_seconds_total counter",
    ]
    for (method, path), seconds in sorted(stats.seconds.items()):
        lines.append(
            f'pilotshare_http_request_seconds_total{{method="{method}",route="{_label(path)}"}} {seconds:.6f}'
        )
    lines += [
        "# HELP pilotshare_process_start_time_seconds Start of this process (Unix time).",
        "# TYPE pilotshare_process_start_time_seconds gauge",
        f"pilotshare_process_start_time_seconds {stats.started:.3f}",
    ]
    lines += _gauges(session)
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8")
