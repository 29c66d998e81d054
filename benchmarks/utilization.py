"""GET /reports/utilization for a month of 60 resources: what the operator console's heatmap asks.

    .venv/bin/python benchmarks/utilization.py [--database sqlite|postgresql] [--resources 60]
                                               [--days 30] [--per-day 4] [--repeat 20]

Creates a fresh database (a SQLite file in a temporary folder, or a new database on the PostgreSQL at
127.0.0.1:5432, user postgres; --postgres-url to change), migrates and demo-seeds it, adds resources up to
--resources, and per resource and day --per-day completed bookings of 2 h with a usage session inside
each. Then asks the month by day through the application in process (FastAPI's test client, so the time
is the server's: routing, queries, computing and JSON) --repeat times, and prints ONE JSON object with
the answer's size and the latency in ms (min, p50, max).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from backend.db import make_engine, unit_of_work
from backend.main import create_app
from backend.migrations import upgrade
from backend.models.booking import Booking, BookingKind
from backend.models.resource import Resource, ResourceKind
from backend.models.usage import UsageSession
from backend.services.demo.seed import seed_demo
from backend.settings import Settings

ZONE = ZoneInfo("Asia/Shanghai")
SECRET = "benchmark-secret-key-0123456789-abcdefgh"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fill(url: str, resources: int, days: int, per_day: int) -> tuple[str, str, tuple[str, str]]:
    """Seed, add resources and a month of bookings and use; (first day, last day, operator login)."""
    upgrade(url)
    engine = make_engine(Settings(database_url=url, secret_key=SECRET))
    with unit_of_work(engine) as session:
        logins = seed_demo(session)
        platform = session.exec(text("SELECT id, owner_org_id FROM platform WHERE code = 'jinan-bio'")).one()
        existing = session.exec(
            text(f"SELECT count(*) FROM resource WHERE platform_id = {platform[0]}")
        ).one()[0]
        for k in range(max(0, resources - existing)):
            session.add(
                Resource(
                    platform_id=platform[0],
                    code=f"BENCH-{k:03d}",
                    kind=ResourceKind.instrument,
                    name=f"基准 {k}",
                    opening_hours={d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
                )
            )
        session.flush()
        ids = [r[0] for r in session.exec(text(f"SELECT id FROM resource WHERE platform_id = {platform[0]}"))]
        user = session.exec(text("SELECT id, organization_id FROM app_user WHERE role = 'sme'")).first()
        first = (datetime.now(ZONE) - timedelta(days=days + 1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        for rid in ids:
            for d in range(days):
                for slot in range(per_day):
                    start = first + timedelta(days=d, hours=8 + 3 * slot)
                    session.add(
                        Booking(
                            platform_id=platform[0],
                            resource_id=rid,
                            kind=BookingKind.fixed,
                            status="completed",
                            organization_id=user[1],
                            user_id=user[0],
                            starts_at=start,
                            ends_at=start + timedelta(hours=2),
                            requested_at=start - timedelta(days=2),
                            purpose="benchmark",
                        )
                    )
                    session.add(
                        UsageSession(
                            resource_id=rid,
                            platform_id=platform[0],
                            started_at=start + timedelta(minutes=10),
                            ended_at=start + timedelta(minutes=100),
                            last_seen_at=start + timedelta(minutes=100),
                            states=["running"],
                            organization_id=user[1],
                        )
                    )
    engine.dispose()
    operator = next(login for login in logins if login.role == "operator")
    log(f"filled: {len(ids)} resources, {len(ids) * days * per_day} bookings and sessions")
    last = first + timedelta(days=days - 1)
    return first.date().isoformat(), last.date().isoformat(), (operator.email, operator.password)


def measure(url: str, first: str, last: str, login: tuple[str, str], repeat: int) -> dict[str, object]:
    settings = Settings(database_url=url, secret_key=SECRET, background_seconds=0, log_level="WARNING")
    with TestClient(create_app(settings)) as client:
        token = client.post("/api/v1/auth/token", data={"username": login[0], "password": login[1]})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        params = {"platform": "jinan-bio", "from": first, "to": last, "every": "day"}
        times = []
        body: dict[str, object] = {}
        for _ in range(repeat):
            began = time.perf_counter()
            answer = client.get("/api/v1/reports/utilization", params=params, headers=headers)
            times.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, answer.text
            body = answer.json()
    rows = body["data"]
    assert isinstance(rows, list)
    return {
        "resources": len(rows),
        "periods": len(body["periods"]),  # type: ignore[arg-type]
        "cells": sum(len(r["periods"]) for r in rows),
        "repeat": repeat,
        "ms_min": round(min(times), 1),
        "ms_p50": round(statistics.median(times), 1),
        "ms_max": round(max(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--resources", type=int, default=60)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if args.database == "sqlite":
        folder = tempfile.mkdtemp(prefix="pilotshare-bench-")
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        first, last, login = fill(url, args.resources, args.days, args.per_day)
        result = measure(url, first, last, login, args.repeat)
    else:
        name = f"pilotshare_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(
            args.postgres_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            first, last, login = fill(url, args.resources, args.days, args.per_day)
            result = measure(url, first, last, login, args.repeat)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(json.dumps({"benchmark": "utilization", "database": args.database, **result}))


if __name__ == "__main__":
    main()
