"""Many booking transitions at once on a running server: the audit chain stays one unbroken line and
holds exactly one event per booking change."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from backend.db import make_engine, unit_of_work
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from tests.support.api_server import running_api

pytestmark = pytest.mark.integration

V1 = "/api/v1"
SECRET = "audit-concurrency-secret-0123456789abcdef"
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _token(base: str, email: str, password: str) -> dict[str, str]:
    token = httpx.post(f"{base}{V1}/auth/token", data={"username": email, "password": password}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)
    engine.dispose()
    with running_api(database_url, SECRET, PILOTSHARE_DEMO_MODE="false") as base:
        operator = _token(base, "operator@jinan-bio.demo", "demo-operator-2026")
        auditor = _token(base, "auditor@sdsti.demo", "demo-auditor-2026")
        yield base, operator, auditor


def _resource(base: str, headers: dict[str, str], code: str) -> int:
    platform = httpx.get(f"{base}{V1}/platforms").json()["data"][0]["id"]
    body = {
        "platform_id": platform,
        "code": code,
        "kind": "instrument",
        "name": "审计并发",
        "opening_hours": ALWAYS,
    }
    response = httpx.post(f"{base}{V1}/resources", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _slots(resource: int, n: int, seed: int, origin: datetime) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(n):
        start = origin + timedelta(minutes=30 * rng.randrange(0, 96))
        end = start + timedelta(minutes=30 * rng.randrange(1, 5))
        bodies.append(
            {"resource_id": resource, "start": start.isoformat(), "end": end.isoformat(), "purpose": "race"}
        )
    return bodies


async def _fire(
    base: str, calls: list[tuple[str, dict[str, Any]]], headers: dict[str, str]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120, headers=headers) as client:
        return await asyncio.gather(*(client.post(url, json=body) for url, body in calls))


def _count(database_url: str, statement: str) -> int:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(statement)).scalar_one())
    finally:
        engine.dispose()


def test_parallel_bookings_approvals_and_cancellations_leave_an_intact_chain(
    server: tuple[str, dict[str, str], dict[str, str]], database_url: str
) -> None:
    base, operator, auditor = server
    first, second = _resource(base, operator, "AUDIT-RACE-1"), _resource(base, operator, "AUDIT-RACE-2")
    origin = datetime(2027, 8, 2, tzinfo=UTC)

    booked = asyncio.run(_fire(base, [(f"{V1}/bookings", b) for b in _slots(first, 80, 1, origin)], operator))
    assert set(Counter(r.status_code for r in booked)) <= {201, 409}
    created = [r.json()["id"] for r in booked if r.status_code == 201]
    assert len(created) > 1

    # cancel all of them while new bookings race for the second resource
    mixed = [(f"{V1}/bookings/{b}/cancel", {"reason": "audit race"}) for b in created]
    mixed += [(f"{V1}/bookings", b) for b in _slots(second, 80, 2, origin)]
    random.Random(3).shuffle(mixed)
    answers = asyncio.run(_fire(base, mixed, operator))
    codes = Counter(r.status_code for r in answers)
    assert set(codes) <= {200, 201, 409}, codes
    assert codes[200] == len(created)  # every cancellation went through

    verdict = httpx.get(f"{base}{V1}/audit/verify", headers=auditor).json()
    assert verdict["ok"] is True and verdict["first_bad"] is None, verdict
    total = _count(database_url, "SELECT count(*) FROM audit_event")
    assert verdict["events"] == total == verdict["head_seq"]
    # one event per booking change, none lost and none doubled
    assert _count(database_url, "SELECT count(*) FROM booking_event") == _count(
        database_url, "SELECT count(*) FROM audit_event WHERE action LIKE 'booking.%'"
    )
    assert _count(database_url, "SELECT count(*) FROM audit_event WHERE action = 'booking.cancel'") == len(
        created
    )
