"""The operator's approval inbox on both databases: who may open it, each request with its SLA clock,
SME, hazard declaration and qualification; approve, reject (a reason required, refused next to its
field) and the green channel, each answered with the row htmx swaps in, and the result read back
through the JSON API; a form without the CSRF token changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration

OPERATOR = ("operator@jinan-bio.demo", "demo-operator-2026")
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
HTMX = {"HX-Request": "true"}


def request_slot(
    api: Api, hours_ahead: int, *, qualified_then_revoked: bool = False, **extra: Any
) -> dict[str, Any]:
    """An SME's request for a fresh resource open around the clock, which asks for no qualification;
    or which does, and the SME's qualification is revoked after the request."""
    resource = api.admin(
        "POST",
        "/api/v1/resources",
        {
            "platform_id": api.ids["platform"],
            "code": unique("Q"),
            "kind": "instrument",
            "name": "审批测试设备",
            "opening_hours": ALWAYS,
            "requires_qualification": qualified_then_revoked,
        },
    )
    if qualified_then_revoked:
        sme = api.call("sme", "GET", "/api/v1/me").json()["id"]
        granted = api.admin("POST", "/api/v1/qualifications", {"user_id": sme, "resource_id": resource["id"]})
    start = (datetime.now(UTC) + timedelta(hours=hours_ahead)).replace(minute=0, second=0, microsecond=0)
    body = {
        "resource_id": resource["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "purpose": unique("pilot run"),
        **extra,
    }
    answer = api.call("sme", "POST", "/api/v1/bookings", body)
    assert answer.status_code == 201, answer.text
    booking: dict[str, Any] = answer.json()
    assert booking["status"] == "requested"
    if qualified_then_revoked:
        api.admin("DELETE", f"/api/v1/qualifications/{granted['id']}")
    return booking


def operator(api: Api) -> TestClient:
    client = browser(api)
    log_in(client, *OPERATOR)
    return client


def status_of(api: Api, booking_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = api.call("operator", "GET", f"/api/v1/bookings/{booking_id}").json()
    return answer


def test_only_staff_open_the_queue(api: Api) -> None:
    anonymous = browser(api)
    answer = anonymous.get("/operator/queue", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    sme = browser(api)
    log_in(sme, *SME)
    assert sme.get("/operator/queue").status_code == 403
    assert "审批" in operator(api).get("/").text  # the navigation leads there


def test_each_request_shows_what_the_decision_needs(api: Api) -> None:
    plain = request_slot(api, 30)
    hazardous = request_slot(
        api,
        40,
        hazardous=True,
        hazard_details="乙醇 20 L",
        qualified_then_revoked=True,
        project_name="菌种放大",
    )
    page = operator(api).get("/operator/queue?lang=en")
    assert page.status_code == 200
    html = page.text
    assert f'data-booking="{plain["id"]}"' in html and plain["purpose"] in html
    row = html[html.index(f'id="q-{hazardous["id"]}"') :]
    row = row[: row.index("</tr>")]
    assert "hazardous" in row and "乙醇 20 L" in row and "菌种放大" in row
    assert "not qualified" in row  # the SME's qualification was revoked after the request
    assert "h" in row and "left" in row  # the SLA clock, which static/queue.js keeps ticking
    assert 'data-left="{h} h {m} min left"' in row and "data-due=" in row
    assert "Qilu" in row or "齐鲁" in row  # the SME's organization


def test_approve_in_place(api: Api) -> None:
    booking = request_slot(api, 50)
    client = operator(api)
    client.get("/operator/queue")
    row = client.post(
        f"/operator/queue/{booking['id']}/approve",
        headers={**HTMX, "X-CSRF-Token": client.cookies["ps_csrf"]},
    )
    assert row.status_code == 200 and "<html" not in row.text
    assert f'data-testid="decided-{booking["id"]}"' in row.text and "已批准" in row.text
    assert status_of(api, booking["id"])["status"] == "approved"
    assert f'id="q-{booking["id"]}"' not in client.get("/operator/queue").text


def test_reject_needs_a_reason_next_to_its_field(api: Api) -> None:
    booking = request_slot(api, 60)
    client = operator(api)
    client.get("/operator/queue")
    csrf = client.cookies["ps_csrf"]
    url = f"/operator/queue/{booking['id']}/reject"
    refused = client.post(url + "?lang=en", data={"csrf_token": csrf}, headers=HTMX)
    assert 'class="error" data-field="reason"' in refused.text and f'id="q-{booking["id"]}"' in refused.text
    assert status_of(api, booking["id"])["status"] == "requested"
    rejected = client.post(url, data={"csrf_token": csrf, "reason": "设备检修"}, headers=HTMX)
    assert f'data-testid="decided-{booking["id"]}"' in rejected.text and "设备检修" in rejected.text
    shown = status_of(api, booking["id"])
    assert shown["status"] == "rejected" and shown["decision_reason"] == "设备检修"


def test_green_channel_in_place(api: Api) -> None:
    booking = request_slot(api, 70)
    client = operator(api)
    client.get("/operator/queue")
    csrf = client.cookies["ps_csrf"]
    before = status_of(api, booking["id"])["sla_due_at"]
    row = client.post(
        f"/operator/queue/{booking['id']}/key-project", data={"csrf_token": csrf, "key": "true"}, headers=HTMX
    )
    assert f'data-testid="green-{booking["id"]}"' in row.text
    after = status_of(api, booking["id"])
    assert after["key_project"] is True and after["sla_due_at"] < before  # the green channel's shorter clock
    assert f'data-testid="green-{booking["id"]}"' in client.get("/operator/queue").text


def test_a_decision_without_the_csrf_token_is_refused(api: Api) -> None:
    booking = request_slot(api, 80)
    client = operator(api)
    client.get("/operator/queue")
    answer = client.post(f"/operator/queue/{booking['id']}/approve", headers=HTMX)
    assert 'data-field="form"' in answer.text
    assert status_of(api, booking["id"])["status"] == "requested"
