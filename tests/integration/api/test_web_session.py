"""The web pages' sessions on both databases: cookie login and logout, CSRF on every form and on API calls
a cookie authenticates, the booking form (result read back through the JSON API, refusals next to the
field), the way back after logging in, languages, and the offline API documentation."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

SME = ("qilu@qilu-enzyme.demo", "demo-sme-2026")


def browser(api: Api) -> TestClient:
    """A second client of the same app with its own cookie jar, like another browser."""
    return TestClient(api.client.app)


def log_in(client: TestClient, email: str, password: str) -> None:
    client.get("/login")
    csrf = client.cookies["ps_csrf"]
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def tuesday(weeks: int) -> date:
    today = date.today()
    return today + timedelta(days=7 * weeks + (1 - today.weekday()) % 7)


def test_pages_ask_for_a_session_and_come_back(api: Api) -> None:
    client = browser(api)
    answer = client.get("/me/bookings?x=1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fme%2Fbookings%3Fx%3D1"
    client.get("/login")
    csrf = client.cookies["ps_csrf"]
    answer = client.post(
        "/login",
        data={"email": SME[0], "password": SME[1], "csrf_token": csrf, "next": "/me/bookings?x=1"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/me/bookings?x=1"
    cookie = answer.headers["set-cookie"]
    assert "ps_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/me/bookings").status_code == 200
    # an outside address is never a way back
    answer = client.post(
        "/login",
        data={"email": SME[0], "password": SME[1], "csrf_token": csrf, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/me/bookings"
    client.post("/logout", data={"csrf_token": csrf})
    assert client.get("/me/bookings", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused(api: Api) -> None:
    client = browser(api)
    client.get("/login")
    answer = client.post("/login", data={"email": SME[0], "password": SME[1]}, follow_redirects=False)
    assert answer.status_code == 403 and "ps_session" not in answer.headers.get("set-cookie", "")
    log_in(client, *SME)
    resource = api.ids["resource:F50-1"]
    day = tuesday(5)
    form = {"start": f"{day}T09:00", "end": f"{day}T10:00", "purpose": "csrf probe"}
    assert client.post(f"/resources/{resource}/book", data=form, follow_redirects=False).status_code == 403
    mine = client.get("/api/v1/bookings?mine=true").json()["data"]
    assert not any(b["purpose"] == "csrf probe" for b in mine)


def test_the_api_trusts_the_session_cookie_only_with_the_csrf_header(api: Api) -> None:
    client = browser(api)
    log_in(client, *SME)
    assert client.get("/api/v1/me").json()["email"] == SME[0]
    body = {
        "resource_id": api.ids["resource:F50-1"],
        "start": "2030-01-08T09:00:00+08:00",
        "end": "2030-01-08T10:00:00+08:00",
        "purpose": "cookie only",
    }
    refused = client.post("/api/v1/bookings", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    accepted = client.post("/api/v1/bookings", json=body, headers={"X-CSRF-Token": client.cookies["ps_csrf"]})
    assert accepted.status_code in (201, 422), accepted.text  # past the CSRF check; the rules decide


def test_booking_form_books_and_refuses_next_to_the_field(api: Api) -> None:
    client = browser(api)
    log_in(client, *SME)
    csrf = client.cookies["ps_csrf"]
    resource = api.ids["resource:F50-1"]
    day = tuesday(6)
    form = {"start": f"{day}T13:00", "end": f"{day}T15:00", "purpose": "form booking", "csrf_token": csrf}
    answer = client.post(f"/resources/{resource}/book", data=form, follow_redirects=False)
    assert answer.status_code == 303 and re.fullmatch(r"/bookings/\d+", answer.headers["location"])
    booking_id = int(answer.headers["location"].rsplit("/", 1)[1])
    booked = client.get(f"/api/v1/bookings/{booking_id}", headers=api.as_("operator")).json()
    start = datetime.fromisoformat(booked["start"].replace("Z", "+00:00"))
    assert booked["purpose"] == "form booking"
    assert start == datetime.fromisoformat(f"{day}T13:00").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    assert client.get(answer.headers["location"]).status_code == 200

    sunday = day + timedelta(days=5)
    closed = {**form, "start": f"{sunday}T09:00", "end": f"{sunday}T10:00"}
    fragment = client.post(f"/resources/{resource}/book", data=closed, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert re.search(r'class="error" data-field="start">[^<]*开放时间', fragment.text), fragment.text
    again = client.post(f"/resources/{resource}/book", data=form, cookies={"ps_lang": "en"})
    assert again.status_code == 422 and 'data-field="start"' in again.text and "already booked" in again.text


def test_chinese_by_default_english_on_the_switch(api: Api) -> None:
    client = browser(api)
    assert "资源目录" in client.get("/").text
    english = client.get("/?lang=en&q=F50")
    assert "Catalog" in english.text and "ps_lang=en" in english.headers["set-cookie"]
    assert 'href="/?q=F50&amp;lang=zh"' in english.text  # the switch keeps the page
    assert "Catalog" in client.get("/").text  # remembered


def test_api_documentation_is_served_offline(api: Api) -> None:
    for path in ("/docs", "/redoc"):
        page = api.client.get(path)
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        assert "default-src 'self'" in page.headers["content-security-policy"]
    assert api.client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
    assert api.client.get("/static/vendor/redoc.standalone.js").status_code == 200


def test_booking_form_files_a_flexible_request(api: Api) -> None:
    client = browser(api)
    log_in(client, *SME)
    day = tuesday(7)
    form = {
        "window_start": f"{day}T08:00",
        "window_end": f"{day + timedelta(days=3)}T20:00",
        "duration_minutes": "180",
        "purpose": "flexible from the form",
        "csrf_token": client.cookies["ps_csrf"],
    }
    answer = client.post(f"/resources/{api.ids['resource:F50-1']}/book", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    booking_id = int(answer.headers["location"].rsplit("/", 1)[1])
    booked = client.get(f"/api/v1/bookings/{booking_id}", headers=api.as_("operator")).json()
    assert (
        booked["kind"] == "flexible" and booked["duration_minutes"] == 180 and booked["status"] == "requested"
    )
    short = {**form, "window_end": f"{day}T09:00"}
    fragment = client.post(
        f"/resources/{api.ids['resource:F50-1']}/book", data=short, headers={"HX-Request": "true"}
    )
    assert 'data-field="duration_minutes"' in fragment.text and "时长超过了时间窗口" in fragment.text
