"""The plan page on both databases: the Gantt chart's figures (resources, bookings by status,
maintenance, closed hours) for a day, a week and a month; the optimizer's proposal reviewed before
anything is booked (placed on the chart, unplaced with its reason), then confirmed into approved
bookings, read back through the JSON API; a second confirmation and a form without CSRF are refused."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_web_operator_queue import OPERATOR
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration

WINDOW = ("2027-09-06T08:00:00+08:00", "2027-09-10T20:00:00+08:00")  # Monday to Friday


def flexible(api: Api, minutes: int, code: str = "HPLC-1") -> dict[str, Any]:
    body = {
        "duration_minutes": minutes,
        "window_start": WINDOW[0],
        "window_end": WINDOW[1],
        "candidates": [api.ids[f"resource:{code}"]],
        "purpose": "plan page assay",
    }
    answer = api.call("sme", "POST", "/api/v1/bookings", body)
    assert answer.status_code == 201, answer.text
    booking: dict[str, Any] = answer.json()
    return booking


def chart(html: str) -> dict[str, Any]:
    found = re.search(r'data-chart="([^"]+)"', html)
    assert found, html[:500]
    data: dict[str, Any] = json.loads(unescape(found.group(1)))
    return data


def operator(api: Api) -> TestClient:
    client = browser(api)
    log_in(client, *OPERATOR)
    return client


def test_only_staff_see_the_plan(api: Api) -> None:
    assert browser(api).get("/operator/plan", follow_redirects=False).status_code == 303
    sme = browser(api)
    log_in(sme, *SME)
    assert sme.get("/operator/plan").status_code == 403


def test_the_chart_carries_resources_bookings_maintenance_and_closed_hours(api: Api) -> None:
    resource = api.ids["resource:F50-1"]
    api.admin(
        "POST",
        f"/api/v1/resources/{resource}/maintenance",
        {"start": "2027-09-14T09:00:00+08:00", "end": "2027-09-14T12:00:00+08:00", "reason": "校准"},
    )
    client = operator(api)
    week = chart(client.get("/operator/plan?view=week&day=2027-09-15").text)
    assert "F50-1" in week["rows"] and week["end"] - week["start"] == 7 * 24 * 3600 * 1000
    row = week["rows"].index("F50-1")
    kinds = {b[3] for b in week["bars"] if b[0] == row}  # [row, start, end, kind, label, booking, key]
    assert {"maintenance", "closed"} <= kinds  # Sunday and nights are closed on the demo platform
    day = chart(client.get("/operator/plan?view=day&day=2027-09-14").text)
    assert day["end"] - day["start"] == 24 * 3600 * 1000
    month = chart(client.get("/operator/plan?view=month&day=2027-09-14").text)
    assert month["end"] - month["start"] == 30 * 24 * 3600 * 1000  # September


def test_review_the_proposal_then_confirm_it(api: Api) -> None:
    me = api.call("sme", "GET", "/api/v1/me").json()["id"]
    grant = api.call(
        "admin", "POST", "/api/v1/qualifications", {"user_id": me, "resource_id": api.ids["resource:SD-1"]}
    )
    assert grant.status_code in (201, 409), grant.text
    fits = flexible(api, 180)
    too_long = flexible(api, 14 * 60, "SD-1")  # longer than any opening period of the attended dryer
    client = operator(api)
    client.get("/operator/plan")
    csrf = client.cookies["ps_csrf"]
    form = {"horizon_start": "2027-09-06", "horizon_end": "2027-09-12", "time_limit": "3", "csrf_token": csrf}
    answer = client.post("/operator/plan/runs", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"] + "&lang=en")
    html = page.text
    assert "Proposed plan" in html and 'data-testid="confirm-plan"' in html
    placed = html[html.index('data-testid="placed"') : html.index('data-testid="unplaced"')]
    unplaced = html[html.index('data-testid="unplaced"') :]
    assert f'data-booking="{fits["id"]}"' in placed
    assert f'data-booking="{too_long["id"]}"' in unplaced
    proposed = [b for b in chart(html)["bars"] if b[3] == "proposed"]
    assert any(b[5] == fits["id"] for b in proposed)
    status = api.call("operator", "GET", f"/api/v1/bookings/{fits['id']}").json()
    assert status["status"] == "requested" and status["start"] is None  # nothing booked before confirming

    run_id = int(re.search(r"run=(\d+)", answer.headers["location"]).group(1))  # type: ignore[union-attr]
    refused = client.post(f"/operator/plan/runs/{run_id}/confirm", follow_redirects=False)
    assert "notice=" in refused.headers["location"]
    assert api.call("operator", "GET", f"/api/v1/bookings/{fits['id']}").json()["status"] == "requested"
    confirmed = client.post(f"/operator/plan/runs/{run_id}/confirm", data={"csrf_token": csrf})
    assert confirmed.status_code == 200 and 'data-testid="confirmed"' in confirmed.text
    booked = api.call("operator", "GET", f"/api/v1/bookings/{fits['id']}").json()
    assert (
        booked["status"] == "approved" and booked["source"] == "scheduler" and booked["resource"] == "HPLC-1"
    )
    run = api.call("operator", "GET", f"/api/v1/schedule/runs/{run_id}").json()
    assert run["applied"] and any(p["booking_id"] == fits["id"] for p in run["placed"])
    again = client.post(f"/operator/plan/runs/{run_id}/confirm", data={"csrf_token": csrf})
    assert "already confirmed" in again.text


def test_a_bad_horizon_is_refused_next_to_its_field(api: Api) -> None:
    client = operator(api)
    client.get("/operator/plan")
    form = {
        "horizon_start": "2027-09-06",
        "horizon_end": "2027-12-30",
        "csrf_token": client.cookies["ps_csrf"],
    }
    answer = client.post("/operator/plan/runs?lang=en", data=form)
    assert answer.status_code == 422 and 'data-field="horizon_end"' in answer.text


def test_maintenance_over_a_booking_proposes_a_repair_to_review_and_apply(api: Api) -> None:
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    rid = api.admin(
        "POST",
        "/api/v1/resources",
        {
            "platform_id": api.ids["platform"],
            "code": unique("RP"),
            "kind": "instrument",
            "name": "修复测试",
            "opening_hours": always,
            "requires_qualification": False,
            "min_notice_minutes": 0,
        },
    )["id"]
    start = datetime(2027, 9, 21, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    booking = api.call(
        "sme",
        "POST",
        "/api/v1/bookings",
        {
            "resource_id": rid,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "purpose": "move me",
        },
    ).json()
    assert api.call("operator", "POST", f"/api/v1/bookings/{booking['id']}/approve").status_code == 200
    client = operator(api)
    client.get("/operator/plan")
    csrf = client.cookies["ps_csrf"]
    form = {"start": "2027-09-21T09:00", "end": "2027-09-21T13:00", "reason": "检修", "csrf_token": csrf}
    added = client.post(f"/operator/resources/{rid}/maintenance", data=form, follow_redirects=False)
    assert added.status_code == 303 and "repair=" in added.headers["location"], added.text
    repair_id = int(re.search(r"repair=(\d+)", added.headers["location"]).group(1))  # type: ignore[union-attr]
    assert 'data-testid="review-repair"' in client.get(added.headers["location"]).text
    review = client.get(f"/operator/plan?repair={repair_id}&lang=en").text
    moves = review[review.index('data-testid="moves"') :]
    assert f'data-booking="{booking["id"]}"' in moves[: moves.index("</table>")]
    assert any(b[3] == "proposed" and b[5] == booking["id"] for b in chart(review)["bars"])
    assert (
        api.call("operator", "GET", f"/api/v1/bookings/{booking['id']}")
        .json()["start"]
        .startswith("2027-09-21T10:00")
    )
    applied = client.post(f"/operator/plan/repairs/{repair_id}/apply", data={"csrf_token": csrf})
    assert 'data-testid="repair-decided"' in applied.text
    moved = api.call("operator", "GET", f"/api/v1/bookings/{booking['id']}").json()
    new_start = datetime.fromisoformat(moved["start"])
    assert new_start >= datetime(
        2027, 9, 21, 13, 0, tzinfo=ZoneInfo("Asia/Shanghai")
    ) or new_start + timedelta(hours=2) <= datetime(2027, 9, 21, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
