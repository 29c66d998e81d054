"""Resource administration pages on both databases: create a resource, edit its details and attributes,
its weekly opening hours, auto-approval rules, a maintenance window that lists the bookings it hits, a
fee standard with its validity, a qualification granted and revoked, an organization's quota — each read
back through the JSON API; refusals next to their field; a form without the CSRF token changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_web_operator_queue import ALWAYS, OPERATOR
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration


def operator(api: Api) -> tuple[TestClient, str]:
    client = browser(api)
    log_in(client, *OPERATOR)
    client.get("/operator/resources")
    return client, client.cookies["ps_csrf"]


def resource(api: Api, rid: int) -> dict[str, Any]:
    found: dict[str, Any] = api.call("operator", "GET", f"/api/v1/resources/{rid}").json()
    return found


def test_only_staff_administer_resources(api: Api) -> None:
    assert browser(api).get("/operator/resources", follow_redirects=False).status_code == 303
    sme = browser(api)
    log_in(sme, *SME)
    assert sme.get("/operator/resources").status_code == 403
    client, _ = operator(api)
    listing = client.get("/operator/resources").text
    assert 'data-code="F50-1"' in listing and 'data-code="PL-1"' in listing


def test_create_then_edit_a_resource(api: Api) -> None:
    client, csrf = operator(api)
    code = unique("R")
    created = client.post(
        "/operator/resources",
        data={
            "code": code,
            "kind": "instrument",
            "name": "新反应釜",
            "capabilities": "reactor, Jacketed-Vessel",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    rid = int(created.headers["location"].split("?")[0].rsplit("/", 1)[1])
    assert set(resource(api, rid)["capabilities"]) == {"reactor", "jacketed-vessel"}
    duplicate = client.post(
        "/operator/resources?lang=en", data={"code": code, "name": "x", "csrf_token": csrf}
    )
    assert duplicate.status_code == 422 and 'data-field="code"' in duplicate.text

    form = {
        "name": "新反应釜",
        "name_en": "New reactor",
        "status": "active",
        "capabilities": "reactor",
        "attributes": "volume_l = 20\nmaterial = 316L\njacketed = true",
        "unattended": "true",
        "csrf_token": csrf,
    }
    assert client.post(f"/operator/resources/{rid}", data=form, follow_redirects=False).status_code == 303
    shown = resource(api, rid)
    assert shown["name_en"] == "New reactor" and shown["unattended"] is True
    assert shown["attributes"] == {"volume_l": 20, "material": "316L", "jacketed": True}
    bad = client.post(f"/operator/resources/{rid}?lang=en", data={**form, "attributes": "volume_l 20"})
    assert bad.status_code == 422 and 'data-field="attributes"' in bad.text

    hours = {f"hours_{d}": "08:00-12:00, 13:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
    saved = client.post(
        f"/operator/resources/{rid}/hours", data={**hours, "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert resource(api, rid)["opening_hours"]["mon"] == [["08:00", "12:00"], ["13:00", "18:00"]]
    assert resource(api, rid)["opening_hours"]["sun"] == []
    wrong = client.post(
        f"/operator/resources/{rid}/hours?lang=en", data={"hours_mon": "8-25", "csrf_token": csrf}
    )
    assert wrong.status_code == 422 and "error" in wrong.text
    inherit = client.post(
        f"/operator/resources/{rid}/hours",
        data={"inherit": "true", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert inherit.status_code == 303 and resource(api, rid)["opening_hours"] is None

    rule = {"enabled": "true", "max_minutes": "240", "qualified_only": "true", "csrf_token": csrf}
    assert (
        client.post(f"/operator/resources/{rid}/auto-approve", data=rule, follow_redirects=False).status_code
        == 303
    )
    assert resource(api, rid)["auto_approve"] == {
        "enabled": True,
        "max_minutes": 240,
        "qualified_only": True,
        "no_hazard": False,
    }

    refused = client.post(
        f"/operator/resources/{rid}", data={**form, "name_en": "no token", "csrf_token": ""}
    )
    assert refused.status_code == 422 and resource(api, rid)["name_en"] == "New reactor"


def test_maintenance_window_lists_the_bookings_it_hits(api: Api) -> None:
    rid = api.admin(
        "POST",
        "/api/v1/resources",
        {
            "platform_id": api.ids["platform"],
            "code": unique("M"),
            "kind": "instrument",
            "name": "维护测试",
            "opening_hours": ALWAYS,
            "requires_qualification": False,
        },
    )["id"]
    start = (datetime.now(UTC) + timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    booking = api.call(
        "sme",
        "POST",
        "/api/v1/bookings",
        {
            "resource_id": rid,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "purpose": "hit me",
        },
    ).json()
    client, csrf = operator(api)
    shanghai = start + timedelta(hours=8)
    form = {
        "start": (shanghai - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "end": (shanghai + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "更换密封圈",
        "csrf_token": csrf,
    }
    added = client.post(f"/operator/resources/{rid}/maintenance", data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"].endswith("#maintenance")
    page = client.get(added.headers["location"]).text
    windows = api.call("operator", "GET", f"/api/v1/resources/{rid}/maintenance").json()
    assert len(windows) == 1 and windows[0]["reason"] == "更换密封圈"
    hits = page[page.index(f'data-testid="hits-{windows[0]["id"]}"') :]
    assert f'data-booking="{booking["id"]}"' in hits[: hits.index("</td>")]
    backwards = client.post(
        f"/operator/resources/{rid}/maintenance?lang=en", data={**form, "end": form["start"]}
    )
    assert backwards.status_code == 422 and 'data-field="end"' in backwards.text
    removed = client.post(
        f"/operator/resources/{rid}/maintenance/{windows[0]['id']}/delete",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert (
        removed.status_code == 303
        and api.call("operator", "GET", f"/api/v1/resources/{rid}/maintenance").json() == []
    )


def test_fee_standards_qualifications_and_quotas(api: Api) -> None:
    rid = api.admin(
        "POST",
        "/api/v1/resources",
        {"platform_id": api.ids["platform"], "code": unique("T"), "kind": "instrument", "name": "收费测试"},
    )["id"]
    client, csrf = operator(api)
    rate = {
        "user_class": "external_sme",
        "unit": "hour",
        "price": "380",
        "valid_from": "2027-01-01",
        "valid_to": "",
        "csrf_token": csrf,
    }
    assert (
        client.post(f"/operator/resources/{rid}/rates", data=rate, follow_redirects=False).status_code == 303
    )
    cards = api.call("operator", "GET", f"/api/v1/resources/{rid}/rates").json()["data"]
    assert [(c["price"], c["valid_to"]) for c in cards] == [("380.00", None)]
    overlap = client.post(f"/operator/resources/{rid}/rates?lang=en", data=rate)
    assert overlap.status_code == 422
    ended = client.post(
        f"/operator/resources/{rid}/rates/{cards[0]['id']}/end",
        data={"valid_to": "2027-06-30", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert ended.status_code == 303
    assert (
        api.call("operator", "GET", f"/api/v1/resources/{rid}/rates").json()["data"][0]["valid_to"]
        == "2027-06-30"
    )

    granted = client.post(
        f"/operator/resources/{rid}/qualifications",
        data={"email": SME[0], "note": "培训 2026-11", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert granted.status_code == 303
    records = api.call("operator", "GET", f"/api/v1/qualifications?resource_id={rid}").json()["data"]
    assert len(records) == 1 and records[0]["note"] == "培训 2026-11"
    assert "培训 2026-11" in client.get(f"/operator/resources/{rid}").text
    stranger = client.post(
        f"/operator/resources/{rid}/qualifications?lang=en", data={"email": "nobody@x.cn", "csrf_token": csrf}
    )
    assert stranger.status_code == 422 and 'data-field="email"' in stranger.text
    revoked = client.post(
        f"/operator/resources/{rid}/qualifications/{records[0]['id']}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert api.call("operator", "GET", f"/api/v1/qualifications?resource_id={rid}").json()["data"] == []

    org = api.ids["other_sme_org"]
    quota = client.post(
        "/operator/quotas",
        data={"organization_id": org, "hours_per_month": "40", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert quota.status_code == 303
    quotas = api.call("operator", "GET", f"/api/v1/platforms/{api.ids['platform']}/quotas").json()
    assert any(q["organization_id"] == org and q["hours_per_month"] == 40 for q in quotas)
