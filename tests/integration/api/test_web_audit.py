"""The auditor's desk on both databases: the report page and its CSV agree with the JSON API, the old
printable-report link leads through the login to the page instead of a bare 401, the reconciliation puts
each finished booking in its category and draws the same spot-check sample for the same seed, and the
audit log verifies the chain on demand and filters its events. SMEs get a refusal on the page."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from backend.db import make_engine, unit_of_work
from backend.models.booking import Booking
from backend.models.usage import UsageSession
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_web_session import browser, log_in

pytestmark = pytest.mark.integration

AUDITOR = ("auditor@sdsti.demo", "demo-auditor-2026")
SME = ("qilu@qilu-enzyme.demo", "demo-sme-2026")
ZONE = ZoneInfo("Asia/Shanghai")
DAY = datetime.now(ZONE).date() - timedelta(days=3)  # a finished day
PERIOD = {"platform": "jinan-bio", "from": DAY.isoformat(), "to": DAY.isoformat()}


def at(hour: float) -> datetime:
    """That day at `hour` o'clock in the platform's zone, as UTC."""
    midnight = datetime(DAY.year, DAY.month, DAY.day, tzinfo=ZONE)
    return (midnight + timedelta(hours=hour)).astimezone(UTC)


@pytest.fixture(scope="module")
def measured(api: Api, database_url: str) -> dict[str, Any]:
    """A fresh instrument with four finished bookings on one day: one used on time, one started 40 min
    late, one never used, one left 1 h early; and an hour of use nobody booked."""
    resource = api.admin(
        "POST",
        "/api/v1/resources",
        {"platform_id": api.ids["platform"], "code": unique("RC"), "kind": "instrument", "name": "核对"},
    )
    sme_user = api.client.get("/api/v1/me", headers=api.as_("sme")).json()["id"]
    engine = make_engine(Settings(database_url=database_url))
    ids: dict[str, int] = {}
    with unit_of_work(engine) as session:

        def booking(name: str, start: float, hours: float, used: list[tuple[float, float]]) -> None:
            row = Booking(
                platform_id=api.ids["platform"],
                resource_id=resource["id"],
                status="completed",
                organization_id=api.ids["sme_org"],
                user_id=sme_user,
                starts_at=at(start),
                ends_at=at(start + hours),
                purpose=f"reconciliation {name}",
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[name] = row.id
            for a, b in used:
                session.add(
                    UsageSession(
                        resource_id=resource["id"],
                        platform_id=api.ids["platform"],
                        started_at=at(a),
                        ended_at=at(b),
                        last_seen_at=at(b),
                        states=["running"],
                        booking_id=row.id,
                        organization_id=api.ids["sme_org"],
                    )
                )

        booking("on_time", 1, 2, [(1, 3)])
        booking("late", 4, 2, [(4 + 40 / 60, 6)])
        booking("no_show", 7, 2, [])
        booking("early", 10, 2, [(10, 11)])
        session.add(
            UsageSession(
                resource_id=resource["id"],
                platform_id=api.ids["platform"],
                started_at=at(13),
                ended_at=at(14),
                last_seen_at=at(14),
                states=["running"],
            )
        )
    engine.dispose()
    return {"resource": resource, "ids": ids}


def auditor(api: Api) -> TestClient:
    client = browser(api)
    log_in(client, *AUDITOR)
    return client


def test_report_page_shows_figures_and_head_of_the_api_report(api: Api, measured: dict[str, Any]) -> None:
    client = auditor(api)
    page = client.get("/audit/report", params=PERIOD)
    assert page.status_code == 200, page.text
    body = api.client.get("/api/v1/reports/sharing", params=PERIOD, headers=api.as_("auditor")).json()
    p = body["platforms"][0]
    assert body["audit"]["head_hash"] in page.text and p["inputs_sha256"] in page.text
    code = measured["resource"]["code"]
    row = next(r for r in p["resources"] if r["code"] == code)
    assert row["effective_hours"] == 5.33  # 2 h + 1 h 20 min + 1 h booked use, 1 h unbooked
    assert re.search(rf"<code>{code}</code>[^<]*</td><td class=\"n\">5\.33 h", page.text)
    if "score" in p:
        assert 'data-testid="score"' in page.text
    else:
        assert 'data-testid="score-missing"' in page.text  # said, not hidden
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_report_csv_is_the_api_csv(api: Api, measured: dict[str, Any]) -> None:
    client = auditor(api)
    answer = client.get("/audit/report.csv", params=PERIOD)
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    ours = [r for r in csv.reader(io.StringIO(answer.text)) if r[2] != "generated_at"]
    theirs = api.client.get(
        "/api/v1/reports/sharing", params={**PERIOD, "format": "csv"}, headers=api.as_("auditor")
    ).text
    assert ours == [r for r in csv.reader(io.StringIO(theirs)) if r[2] != "generated_at"]


def test_the_old_printable_link_leads_to_the_page_through_the_login(api: Api) -> None:
    client = browser(api)
    old = "/api/v1/reports/sharing?from=2026-01-01&to=2026-03-31&platform=jinan-bio&format=html"
    answer = client.get(old, follow_redirects=False)
    assert answer.status_code == 303
    page_url = answer.headers["location"]
    assert page_url == "/audit/report?from=2026-01-01&to=2026-03-31&platform=jinan-bio"
    login = client.get(page_url, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"].startswith("/login?next=")
    log_in(client, *AUDITOR)
    assert client.get(page_url).status_code == 200
    assert client.get(old).status_code == 200  # with a session the printable page itself still answers
    # scripts keep their honest 401
    assert api.client.get(old.replace("&format=html", "")).status_code == 401


def test_smes_are_refused_on_the_page(api: Api) -> None:
    client = browser(api)
    log_in(client, *SME)
    for path in ("/audit/report", "/audit/reconciliation", "/audit/log"):
        answer = client.get(path)
        assert answer.status_code == 403 and 'role="alert"' in answer.text, path


def test_reconciliation_categories_and_use_without_booking(api: Api, measured: dict[str, Any]) -> None:
    client = auditor(api)
    query = {**PERIOD, "resource": measured["resource"]["code"]}
    page = client.get("/audit/reconciliation", params={**query, "lang": "en"})
    assert page.status_code == 200, page.text
    ids = measured["ids"]
    rows = dict(re.findall(r'<tr data-booking="(\d+)" data-categories="([^"]*)"', page.text))
    assert rows == {
        str(ids["on_time"]): "on_time",
        str(ids["late"]): "late_start",
        str(ids["no_show"]): "no_show",
        str(ids["early"]): "early_finish",
    }
    assert len(re.findall(r"<tr data-session=", page.text)) == 1  # the unbooked hour
    late = client.get("/audit/reconciliation", params={**query, "category": "late_start"}).text
    assert re.findall(r'<tr data-booking="(\d+)"', late) == [str(ids["late"])]
    assert "data-session=" not in late
    assert f'href="/bookings/{ids["late"]}"' in late


def test_sampling_is_reproducible_from_the_seed_it_shows(api: Api, measured: dict[str, Any]) -> None:
    client = auditor(api)
    query = {**PERIOD, "resource": measured["resource"]["code"], "sample": "2"}
    drawn = client.get("/audit/reconciliation", params=query, follow_redirects=False)
    assert drawn.status_code == 303
    seed = re.search(r"seed=(\d+)", drawn.headers["location"])
    assert seed is not None
    first = client.get(drawn.headers["location"])
    assert f'data-seed="{seed.group(1)}"' in first.text

    def sampled(text: str) -> list[str]:
        table = text.split('data-testid="sampled"', 1)[1].split("</table>", 1)[0]
        return re.findall(r'<tr data-booking="(\d+)"', table)

    again = client.get("/audit/reconciliation", params={**query, "seed": seed.group(1)})
    assert len(sampled(first.text)) == 2 and sampled(again.text) == sampled(first.text)
    refused = client.get("/audit/reconciliation", params={**query, "sample": "0", "seed": "1"})
    assert refused.status_code == 422 and 'data-field="sample"' in refused.text


def test_audit_log_verifies_on_demand_and_filters(api: Api, measured: dict[str, Any]) -> None:
    client = auditor(api)
    page = client.get("/audit/log")
    assert page.status_code == 200 and 'data-testid="verify"' in page.text
    verdict = api.client.get("/api/v1/audit/verify", headers=api.as_("auditor")).json()
    fragment = client.get("/audit/log", params={"verify": "true"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-ok="true"' in fragment.text and verdict["head_hash"][:20] in fragment.text
    every = api.client.get("/api/v1/audit/events?limit=500", headers=api.as_("auditor")).json()["data"]
    action = every[0]["action"]
    events = client.get("/audit/log", params={"action": action}, headers={"HX-Request": "true"})
    assert events.status_code == 200 and "<html" not in events.text
    actions = re.findall(r'<code class="muted">([a-z_]+\.[a-z_.-]+)</code>', events.text)  # beside its words
    assert actions and set(actions) == {action}
    bad = client.get("/audit/log", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert bad.status_code == 422 and 'data-field="to"' in bad.text


def test_the_auditor_lands_on_the_report_and_sees_the_desk_in_the_navigation(api: Api) -> None:
    client = browser(api)
    client.get("/login")
    answer = client.post(
        "/login",
        data={"email": AUDITOR[0], "password": AUDITOR[1], "csrf_token": client.cookies["ps_csrf"]},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/audit/report"
    page = client.get("/audit/report").text
    for path in ("/audit/report", "/audit/reconciliation", "/audit/log"):
        assert f'href="{path}"' in page
