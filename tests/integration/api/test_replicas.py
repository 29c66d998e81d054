"""Two API processes over one PostgreSQL database answer as one: nothing lives in a process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from backend.db import make_engine, unit_of_work
from backend.migrations import upgrade
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from tests.support.api_server import running_api
from tests.support.databases import postgres_database

pytestmark = pytest.mark.integration

V1 = "/api/v1"


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[str, str]]:
    with postgres_database() as url:
        upgrade(url)
        engine = make_engine(Settings(database_url=url))
        with unit_of_work(engine) as session:
            seed_demo(session)
        engine.dispose()
        secret = "replica-secret-0123456789abcdefghij"
        with running_api(url, secret) as a, running_api(url, secret) as b:
            yield a, b


def test_a_token_and_a_booking_from_one_replica_hold_on_the_other(replicas: tuple[str, str]) -> None:
    a, b = replicas
    token = httpx.post(
        f"{a}{V1}/auth/token", data={"username": "operator@jinan-bio.demo", "password": "demo-operator-2026"}
    ).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(f"{b}{V1}/me", headers=headers).json()["email"] == "operator@jinan-bio.demo"
    slot = {
        "resource_id": 3,
        "start": "2027-10-04T09:00:00+08:00",
        "end": "2027-10-04T11:00:00+08:00",
        "purpose": "replica check",
    }
    made = httpx.post(f"{a}{V1}/bookings", json=slot, headers=headers)
    assert made.status_code == 201, made.text
    assert httpx.get(f"{b}{V1}/bookings/{made.json()['id']}", headers=headers).json()["status"] == "approved"
    clash = httpx.post(f"{b}{V1}/bookings", json=slot, headers=headers)
    assert clash.status_code == 409
    window = "from=2027-10-04T00:00:00%2B08:00&to=2027-10-05T00:00:00%2B08:00"
    assert (
        httpx.get(f"{a}{V1}/resources/3/availability?{window}").json()
        == httpx.get(f"{b}{V1}/resources/3/availability?{window}").json()
    )


def test_a_replica_that_kept_an_availability_answer_shows_the_other_ones_booking_soon(
    replicas: tuple[str, str],
) -> None:
    """A process keeps an availability answer for at most PILOTSHARE_AVAILABILITY_CACHE_SECONDS (1 s) while
    it writes nothing itself: the replica that booked shows the booking at once, the other one soon."""
    a, b = replicas
    token = httpx.post(
        f"{a}{V1}/auth/token", data={"username": "operator@jinan-bio.demo", "password": "demo-operator-2026"}
    ).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    url = f"{V1}/resources/3/availability?from=2027-10-05T00:00:00%2B08:00&to=2027-10-06T00:00:00%2B08:00"
    before = httpx.get(f"{b}{url}").json()
    slot = {"resource_id": 3, "start": "2027-10-05T09:00:00+08:00", "end": "2027-10-05T11:00:00+08:00"}
    made = httpx.post(f"{a}{V1}/bookings", json={**slot, "purpose": "kept answers"}, headers=headers)
    assert made.status_code == 201, made.text
    at_a = httpx.get(f"{a}{url}").json()
    assert at_a != before
    deadline = time.monotonic() + 30
    while httpx.get(f"{b}{url}").json() != at_a:
        assert time.monotonic() < deadline, "the other replica kept its answer for 30 s"
        time.sleep(0.05)
