"""Load time of each web page on the demo data, as a logged-in user of the role that uses it.

    make services && .venv/bin/pilotshare demo &          # the demo with its eight weeks of history
    .venv/bin/python benchmarks/ui.py --url http://127.0.0.1:8000 [--repeat 30]

    .venv/bin/python benchmarks/ui.py --gantt [--repeat 10]   # no demo needed: its own database

For each page: `--repeat` sequential GETs (after one warm-up) from one client on loopback, timed from
sending the request to the last byte of the HTML (server time plus transfer; no browser rendering).
Prints ONE JSON object: per page status, p50, p95 and max in ms, and the size in bytes. Target: p95
under 300 ms for every page on a 2-core machine. Not a test: nothing is asserted.

`--gantt` measures the operator's plan for a month of a platform with 60 resources (about 1,200 bookings,
maintenance and closed hours) in an app of its own on a temporary SQLite database: the page's server time
and size (target: under 1 s), and the plan's board alone (`services/scheduling/board.py`).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from datetime import date, timedelta

import httpx

LOGINS = {
    "sme": ("qilu@qilu-enzyme.demo", "demo-sme-2026"),
    "operator": ("operator@jinan-bio.demo", "demo-operator-2026"),
    "auditor": ("auditor@sdsti.demo", "demo-auditor-2026"),
    "admin": ("admin@pilotshare.demo", "demo-admin-2026"),
}


def session(base: str, role: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    client.get("/login")
    email, password = LOGINS[role]
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": client.cookies["ps_csrf"]}
    )
    if answer.status_code != 303:
        raise SystemExit(f"cannot log in as {email}: {answer.status_code}")
    return client


def pages(sme: httpx.Client) -> list[tuple[str, str]]:
    """(role, path) of every page, with ids taken from the demo data."""
    mine = sme.get("/me/bookings").text
    booking = re.findall(r'data-booking="(\d+)"', mine)
    resource = re.findall(r'href="/resources/(\d+)"', sme.get("/").text)
    out = [
        ("anonymous", "/"),
        ("anonymous", "/?q=发酵"),
        ("anonymous", f"/resources/{resource[0]}"),
        ("anonymous", "/login"),
        ("anonymous", "/docs"),
        ("sme", "/me/bookings"),
        ("sme", "/me/invoices"),
        ("operator", "/live"),
        ("operator", "/operator/queue"),
        ("operator", "/operator/plan"),
        ("operator", "/operator/plan?view=month"),
        ("operator", "/operator/resources"),
        ("operator", f"/operator/resources/{resource[0]}"),
        ("operator", "/operator/utilization"),
    ]
    out += [("sme", f"/bookings/{b}") for b in booking[-3:]]
    # the auditor's desk over the demo's history (the last 70 days), and the admin page
    first = (date.today() - timedelta(days=70)).isoformat()
    period = f"platform=jinan-bio&from={first}&to={date.today()}"
    out += [
        ("auditor", f"/audit/report?{period}"),
        ("auditor", f"/audit/report.csv?{period}"),
        ("auditor", f"/audit/reconciliation?{period}"),
        ("auditor", f"/audit/reconciliation?{period}&sample=5&seed=1"),
        ("auditor", "/audit/log"),
        ("auditor", "/audit/log?verify=true"),
        ("admin", "/admin"),
    ]
    return out


def measure(client: httpx.Client, path: str, repeat: int) -> dict[str, object]:
    client.get(path)
    times, status, size = [], 0, 0
    for _ in range(repeat):
        began = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        status, size = answer.status_code, len(answer.content)
    times.sort()
    return {
        "status": status,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
        "bytes": size,
    }


def gantt(repeat: int) -> dict[str, object]:
    """The month view of /operator/plan with 60 resources, each booked most working days."""
    import tempfile
    from datetime import UTC, date, datetime, timedelta
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    from fastapi.testclient import TestClient
    from sqlmodel import select

    from backend.db import make_engine, unit_of_work
    from backend.domain.access import Principal, Role
    from backend.domain.bookings import BookingStatus
    from backend.domain.intervals import Interval
    from backend.main import create_app
    from backend.migrations import upgrade
    from backend.models.booking import Booking
    from backend.models.platform import Platform
    from backend.models.resource import MaintenanceWindow, Resource, ResourceKind
    from backend.services.demo.seed import seed_demo
    from backend.services.scheduling.board import board
    from backend.settings import Settings

    zone = ZoneInfo("Asia/Shanghai")
    first = date.today().replace(day=1)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/gantt.db"
        upgrade(url)
        settings = Settings(
            database_url=url, secret_key="benchmark-secret-key-0123456789-abcdef", background_seconds=0
        )
        engine = make_engine(settings)
        with unit_of_work(engine) as session:
            seed_demo(session)
            platform = session.exec(select(Platform).where(Platform.code == "jinan-bio")).one()
            user = session.exec(select(Booking.user_id)).first() or 1
            existing = list(session.exec(select(Resource).where(Resource.platform_id == platform.id)))
            for n in range(60 - len(existing)):
                session.add(
                    Resource(
                        platform_id=platform.id or 0,
                        code=f"BENCH-{n:02d}",
                        kind=ResourceKind.instrument,
                        name=f"基准设备 {n}",
                    )
                )
            session.flush()
            every = list(session.exec(select(Resource).where(Resource.platform_id == platform.id)))
            for i, r in enumerate(every):
                for d in range(31):
                    day = first + timedelta(days=d)
                    if day.weekday() == 6 or (day.month != first.month):
                        continue
                    start = datetime.combine(day, clock(8 + (i + d) % 8), zone).astimezone(UTC)
                    status = BookingStatus.completed if day < date.today() else BookingStatus.approved
                    session.add(
                        Booking(
                            platform_id=platform.id or 0,
                            resource_id=r.id,
                            user_id=user,
                            status=status,
                            starts_at=start,
                            ends_at=start + timedelta(hours=3),
                            purpose="benchmark",
                        )
                    )
                session.add(
                    MaintenanceWindow(
                        resource_id=r.id or 0,
                        start=datetime.combine(first + timedelta(days=i % 28), clock(7), zone),
                        end=datetime.combine(first + timedelta(days=i % 28), clock(9), zone),
                        reason="calibration",
                    )
                )
            bookings = len(list(session.exec(select(Booking.id))))
            operator = Principal(user_id=0, role=Role.admin, platform_id=None, organization_id=None)
            window = Interval(
                datetime.combine(first, clock(), zone),
                datetime.combine((first + timedelta(days=32)).replace(day=1), clock(), zone),
            )
            board(session, operator, platform, window)
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                shown = board(session, operator, platform, window)
                times.append((time.perf_counter() - began) * 1000)
            bars = len(shown.bars)
        with TestClient(create_app(settings)) as client:
            client.get("/login")
            answer = client.post(
                "/login",
                data={
                    "email": "operator@jinan-bio.demo",
                    "password": "demo-operator-2026",
                    "csrf_token": client.cookies["ps_csrf"],
                },
            )
            answer.raise_for_status()
            page = measure(client, f"/operator/plan?view=month&day={first}", repeat)
        engine.dispose()
    times.sort()
    return {
        "resources": 60,
        "bookings": bookings,
        "bars": bars,
        "board_p50_ms": round(statistics.median(times), 1),
        "board_p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "page": page,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--gantt", action="store_true", help="the plan of 60 resources × a month, in-process")
    args = parser.parse_args()
    if args.gantt:
        print(json.dumps({"gantt_60_resources_month": gantt(args.repeat)}))
        return
    clients = {"anonymous": httpx.Client(base_url=args.url, timeout=30)}
    clients.update({role: session(args.url, role) for role in LOGINS})
    results = {
        f"{role} {path}": measure(clients[role], path, args.repeat) for role, path in pages(clients["sme"])
    }
    worst = max(float(str(r["p95_ms"])) for r in results.values())
    print(json.dumps({"url": args.url, "repeat": args.repeat, "worst_p95_ms": worst, "pages": results}))


if __name__ == "__main__":
    main()
