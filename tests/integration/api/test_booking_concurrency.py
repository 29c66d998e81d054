"""Hundreds of clients racing for the same time on a running server: never a double allocation."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text

from backend.db import make_engine, unit_of_work
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from tests.support.api_server import running_api

pytestmark = pytest.mark.integration

V1 = "/api/v1"
SECRET = "concurrency-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[tuple[str, str]]:
    """A real `pilotshare api` process over a migrated and seeded database, and an operator's token."""
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)
    engine.dispose()
    with running_api(database_url, SECRET, PILOTSHARE_DEMO_MODE="false") as base:
        token = httpx.post(
            f"{base}{V1}/auth/token",
            data={"username": "operator@jinan-bio.demo", "password": "demo-operator-2026"},
        ).json()
        yield base, token["access_token"]


def _resource(base: str, token: str, code: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    platform = httpx.get(f"{base}{V1}/platforms").json()["data"][0]["id"]
    body = {
        "platform_id": platform,
        "code": code,
        "kind": "instrument",
        "name": "并发测试",
        "opening_hours": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    response = httpx.post(f"{base}{V1}/resources", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _fire(base: str, token: str, bodies: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        headers = {"Authorization": f"Bearer {token}"}
        return await asyncio.gather(*(client.post(f"{V1}/bookings", json=b, headers=headers) for b in bodies))


def _slots_in_db(database_url: str, resource_id: int) -> list[tuple[datetime, datetime]]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT starts_at, ends_at FROM booking WHERE resource_id = :r AND status IN "
                    "('requested', 'approved', 'checked_in', 'completed') ORDER BY starts_at"
                ),
                {"r": resource_id},
            ).all()
    finally:
        engine.dispose()
    return [(_utc(s), _utc(e)) for s, e in rows]


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_200_clients_booking_the_same_slot_get_one_201_and_199_409(
    server: tuple[str, str], database_url: str
) -> None:
    base, token = server
    resource = _resource(base, token, "RACE-SAME")
    start = datetime(2027, 6, 1, 1, tzinfo=UTC)
    body = {
        "resource_id": resource,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "purpose": "race",
    }
    responses = asyncio.run(_fire(base, token, [body] * 200))
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: 199}, codes
    for r in responses:
        if r.status_code == 409:
            assert r.json()["conflict"]["resource"] == "RACE-SAME"
    assert _slots_in_db(database_url, resource) == [(start, start + timedelta(hours=2))]


def test_200_clients_with_overlapping_random_slots_never_overlap_in_the_database(
    server: tuple[str, str], database_url: str
) -> None:
    base, token = server
    resource = _resource(base, token, "RACE-RANDOM")
    rng = random.Random(7)
    origin = datetime(2027, 7, 1, tzinfo=UTC)
    bodies = []
    for _ in range(200):
        start = origin + timedelta(minutes=30 * rng.randrange(0, 96))
        length = timedelta(minutes=30 * rng.randrange(1, 9))
        bodies.append(
            {
                "resource_id": resource,
                "start": start.isoformat(),
                "end": (start + length).isoformat(),
                "purpose": "race",
            }
        )
    responses = asyncio.run(_fire(base, token, bodies))
    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {201, 409}, codes
    slots = _slots_in_db(database_url, resource)
    assert len(slots) == codes[201] > 1
    for (_, end), (next_start, _) in itertools.pairwise(slots):
        assert end <= next_start, f"double allocation: {slots}"
    created = {(_utc(r.json()["start"]), _utc(r.json()["end"])) for r in responses if r.status_code == 201}
    assert created == set(slots)
    for r, body in zip(responses, bodies, strict=True):
        if r.status_code == 409:  # every refusal names a booking that really overlaps the request
            c = r.json()["conflict"]
            assert _utc(c["start"]) < _utc(body["end"]) and _utc(body["start"]) < _utc(c["end"])
