"""Prometheus text exposition: this process's request counters and the database's business gauges.

Request counters are per process, as Prometheus expects of every scraped replica; the gauges come
from the shared database, so every replica reports the same values for them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from backend.http.deps import SessionDep
from backend.http.middleware import RequestStats
from backend.services.operations.health import business_gauges

router = APIRouter(tags=["health"])


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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
    for gauge in business_gauges(session):
        lines += [f"# HELP {gauge.name} {gauge.help}", f"# TYPE {gauge.name} gauge"]
        for labels, n in gauge.samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{gauge.name}{{{text}}} {n}" if text else f"{gauge.name} {n}")
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8")
