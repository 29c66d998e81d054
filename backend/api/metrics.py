"""Prometheus text exposition: this process's request counters and the database's business gauges.

Request counters are per process, as Prometheus expects of every scraped replica; the gauges come
from the shared database, so every replica reports the same values for them.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.api.deps import SessionDep
from backend.models.booking import Booking, OutboxMessage
from backend.models.resource import Resource

router = APIRouter(tags=["health"])


@dataclass
class RequestStats:
    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    seconds: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    started: float = field(default_factory=time.time)


def install_request_stats(app: FastAPI) -> None:
    stats = app.state.request_stats = RequestStats()

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        began = time.perf_counter()
        response = await call_next(request)
        path = _template(request)
        stats.counts[(request.method, path, response.status_code)] += 1
        stats.seconds[(request.method, path)] += time.perf_counter() - began
        return response


def _template(request: Request) -> str:
    """The route's path with its parameters named (`/api/v1/bookings/{booking_id}`): few label values."""
    if "route" not in request.scope:
        return "unmatched"
    names = {str(v): k for k, v in request.scope.get("path_params", {}).items()}
    return "/".join(f"{{{names[s]}}}" if s in names else s for s in request.url.path.split("/"))


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
