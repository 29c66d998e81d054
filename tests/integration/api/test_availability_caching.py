"""The public availability answer carries an ETag: a client holding the current answer gets 304, and
a booking that changes the free time changes the tag (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.db import make_engine, unit_of_work
from backend.models.resource import MaintenanceWindow
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def test_an_unchanged_answer_is_304_and_a_booking_changes_the_tag(api: Api) -> None:
    body = {
        "platform_id": api.ids["platform"],
        "code": unique("ET"),
        "kind": "instrument",
        "name": "缓存测试",
    }
    resource = api.admin("POST", f"{V1}/resources", {**body, "opening_hours": ALWAYS})
    start = (datetime.now(UTC) + timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    query = {"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()}
    url = f"{V1}/resources/{resource['id']}/availability"

    first = api.client.get(url, params=query)
    assert first.status_code == 200 and first.headers["etag"]
    again = api.client.get(url, params=query, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]

    slot = {
        "resource_id": resource["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
    }
    assert api.call("operator", "POST", f"{V1}/bookings", {**slot, "purpose": "etag"}).status_code == 201
    changed = api.client.get(url, params=query, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    assert changed.json()["free"][0]["start"] != first.json()["free"][0]["start"]


def test_a_commit_anywhere_in_the_process_retires_the_answers_it_kept(api: Api, database_url: str) -> None:
    """The API process keeps an answer for a moment (PILOTSHARE_AVAILABILITY_CACHE_SECONDS); a change
    committed by this process, through the API or not, is in its very next answer."""
    resource = api.admin(
        "POST",
        f"{V1}/resources",
        {
            "platform_id": api.ids["platform"],
            "code": unique("EK"),
            "kind": "instrument",
            "name": "缓存",
            "opening_hours": ALWAYS,
        },
    )
    start = (datetime.now(UTC) + timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    url = f"{V1}/resources/{resource['id']}/availability"
    query = {"from": start.isoformat(), "to": (start + timedelta(days=2)).isoformat()}
    first = api.client.get(url, params=query).json()
    assert api.client.get(url, params=query).json() == first

    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        session.add(
            MaintenanceWindow(
                resource_id=resource["id"], start=start, end=start + timedelta(hours=3), reason="x"
            )
        )
    engine.dispose()
    after = api.client.get(url, params=query).json()
    assert after["free"][0]["start"] != first["free"][0]["start"]
