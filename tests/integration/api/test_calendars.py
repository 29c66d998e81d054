"""iCalendar feeds as a calendar client sees them: they parse back with `icalendar` and show the right
bookings; the public feed tells when, never who or why; the personal feed opens only with a feed token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from backend.services.accounts.security import create_feed_token
from backend.settings import Settings
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

V1 = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET_PURPOSE = "机密配方 secret formulation"


def at(day: int, hour: int) -> datetime:
    """Day `day` of March 2027 at `hour` in Shanghai (the tests pick weekdays)."""
    return datetime(2027, 3, day, hour, tzinfo=SHANGHAI)


def book(api: Api, role: str, code: str, start: datetime, hours: int = 1) -> dict[str, Any]:
    body = {
        "resource_id": api.ids[f"resource:{code}"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "purpose": SECRET_PURPOSE,
        "project_name": "Project Lantern",
    }
    response = api.call(role, "POST", f"{V1}/bookings", body)
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


def events(body: bytes) -> dict[str, Any]:
    calendar = Calendar.from_ical(body)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def uid(booking: dict[str, Any]) -> str:
    return f"booking-{booking['id']}@pilotshare"


def settings_of(api: Api) -> Settings:
    settings: Settings = api.client.app.state.settings  # type: ignore[attr-defined]
    return settings


def feed_path(api: Api, role: str) -> str:
    response = api.call(role, "GET", f"{V1}/me/calendar-url")
    assert response.status_code == 200, response.text
    url = urlsplit(response.json()["url"])
    assert response.json()["webcal"].startswith("webcal://")
    return f"{url.path}?{url.query}"


def test_resource_feed_shows_busy_blocks_without_who_or_why(api: Api) -> None:
    requested = book(api, "sme", "HPLC-1", at(1, 9))
    confirmed = book(api, "operator", "HPLC-1", at(1, 14), hours=2)
    cancelled = book(api, "operator", "HPLC-1", at(2, 9))
    assert api.call("operator", "POST", f"{V1}/bookings/{cancelled['id']}/cancel").status_code == 200
    elsewhere = book(api, "operator", "F5-1", at(1, 9))
    maintenance = api.admin(
        "POST",
        f"{V1}/resources/{api.ids['resource:HPLC-1']}/maintenance",
        {"start": at(3, 8).isoformat(), "end": at(3, 12).isoformat(), "reason": "column change"},
    )

    response = api.client.get(f"{V1}/calendars/resources/{api.ids['resource:HPLC-1']}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert SECRET_PURPOSE.encode() not in response.content and b"Lantern" not in response.content
    found = events(response.content)
    assert uid(requested) in found and uid(confirmed) in found
    assert uid(cancelled) not in found and uid(elsewhere) not in found

    event = found[uid(requested)]
    assert event.decoded("DTSTART") == at(1, 9) and event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert b"DTSTART:20270301T010000Z" in response.content  # UTC, no VTIMEZONE needed
    assert event.decoded("DTEND") == at(1, 10)
    assert str(event["SUMMARY"]) == "HPLC-1 requested" and str(event["STATUS"]) == "TENTATIVE"
    assert "ORGANIZER" not in event and "DESCRIPTION" not in event
    assert str(found[uid(confirmed)]["STATUS"]) == "CONFIRMED"
    assert found[uid(confirmed)].decoded("DTEND") == at(1, 16)
    assert event.decoded("LAST-MODIFIED") <= datetime.now(UTC)

    blocked = found[f"maintenance-{maintenance['id']}@pilotshare"]
    assert blocked.decoded("DTSTART") == at(3, 8) and "column" not in str(blocked["SUMMARY"])

    assert api.client.get(f"{V1}/calendars/resources/999999.ics").status_code == 404


def test_personal_feeds_show_the_organizations_or_the_platforms_bookings(api: Api) -> None:
    mine = book(api, "sme", "F50-1", at(4, 9))
    platform_own = book(api, "operator", "F50-1", at(4, 13))

    sme_path = feed_path(api, "sme")
    sme_feed = events(api.client.get(sme_path).content)
    assert uid(mine) in sme_feed and uid(platform_own) not in sme_feed
    event = sme_feed[uid(mine)]
    assert str(event["STATUS"]) == "TENTATIVE" and str(event["SUMMARY"]) == "F50-1 requested"
    assert SECRET_PURPOSE in str(event["DESCRIPTION"]) and event.decoded("DTSTART") == at(4, 9)
    first_modified = event.decoded("LAST-MODIFIED")

    operator_feed = events(api.client.get(feed_path(api, "operator")).content)
    assert {uid(mine), uid(platform_own)} <= set(operator_feed)
    other_feed = events(api.client.get(feed_path(api, "other_operator")).content)
    assert uid(mine) not in other_feed and uid(platform_own) not in other_feed
    assert uid(mine) not in events(api.client.get(feed_path(api, "other_sme")).content)

    assert api.call("operator", "POST", f"{V1}/bookings/{mine['id']}/approve").status_code == 200
    again = events(api.client.get(sme_path).content)[uid(mine)]  # same UID: the client updates it
    assert str(again["STATUS"]) == "CONFIRMED" and str(again["SUMMARY"]) == "F50-1 approved"
    assert again.decoded("LAST-MODIFIED") >= first_modified


def test_only_a_valid_feed_token_opens_the_personal_feed(api: Api) -> None:
    settings = settings_of(api)
    sme = SimpleNamespace(id=api.call("sme", "GET", f"{V1}/me").json()["id"], token_version=0)
    feed = f"{V1}/calendars/me.ics"
    access_token = api.as_("sme")["Authorization"].removeprefix("Bearer ")
    feed_token = feed_path(api, "sme").split("token=", 1)[1]

    assert api.client.get(feed, params={"token": feed_token}).status_code == 200
    refused = {
        "access token": access_token,
        "expired": create_feed_token(settings, sme, days=-1),  # type: ignore[arg-type]
        "other key": create_feed_token(
            settings.model_copy(update={"secret_key": "another-secret-key-0123456789-abcdefgh"}),
            sme,  # type: ignore[arg-type]
        ),
        "tampered": feed_token[:-4] + ("AAAA" if not feed_token.endswith("AAAA") else "BBBB"),
        "garbage": "not-a-token",
    }
    for name, token in refused.items():
        response = api.client.get(feed, params={"token": token})
        assert response.status_code == 401, name
    assert api.client.get(feed).status_code == 422

    as_bearer = api.client.get(f"{V1}/me", headers={"Authorization": f"Bearer {feed_token}"})
    assert as_bearer.status_code == 401  # a leaked feed URL does not open the API
    assert api.call("anonymous", "GET", f"{V1}/me/calendar-url").status_code == 401
