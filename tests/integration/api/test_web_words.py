"""Every page in the reader's language, on both databases: organization kinds and roles as words in
English and Chinese, the admin forms' refusals in Chinese, names in English where the data has them
(utilization), a page refused as a page (someone else's booking), and repair proposals after a fault
reported on the plan page: listed while they wait, each move with its reason in Chinese."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_web_operator_queue import OPERATOR
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration

ADMIN = ("admin@pilotshare.demo", "demo-admin-2026")
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def test_organization_kinds_and_roles_read_as_words(api: Api) -> None:
    admin = browser(api)
    log_in(admin, *ADMIN)
    english = admin.get("/admin?lang=en").text
    assert ">platform owner<" in english and ">SME<" in english and ">platform_owner<" not in english
    assert ">sme<" not in english and ">platform operator<" in english
    chinese = admin.get("/admin?lang=zh").text
    assert ">平台运营单位<" in chinese and ">中小企业<" in chinese and ">platform_owner<" not in chinese


def test_admin_form_refusals_are_in_chinese(api: Api) -> None:
    admin = browser(api)
    log_in(admin, *ADMIN)
    csrf = admin.cookies["ps_csrf"]
    taken = admin.post(
        "/admin/organizations?lang=zh",
        data={"code": "qilu-enzyme", "name": "x", "kind": "sme", "csrf_token": csrf},
    )
    assert taken.status_code == 422 and "的单位已存在" in taken.text and "exists already" not in taken.text
    bad = admin.post(
        "/admin/organizations?lang=zh",
        data={"code": unique("o"), "name": "x", "kind": "sme", "credit_code": "12345", "csrf_token": csrf},
    )
    assert "统一社会信用代码应为 18 位" in bad.text
    user = admin.post(
        "/admin/users?lang=zh",
        data={
            "email": f"{unique('u')}@x.demo",
            "full_name": "x",
            "role": "operator",
            "password": "long-enough-1",
            "csrf_token": csrf,
        },
    )
    assert user.status_code == 422 and "平台运营人员须属于一个平台" in user.text


def test_utilization_names_resources_in_the_readers_language(api: Api) -> None:
    client = browser(api)
    log_in(client, *OPERATOR)
    english = client.get("/operator/utilization?lang=en").text
    assert "50 L pilot fermenter #1" in english and "中试发酵罐" not in english
    assert "50 L 中试发酵罐 1号" in client.get("/operator/utilization?lang=zh").text


def open_resource(api: Api, **extra: object) -> dict[str, object]:
    body = {
        "platform_id": api.ids["platform"],
        "code": unique("FT"),
        "kind": "instrument",
        "name": "故障测试",
        "opening_hours": ALWAYS,
        "requires_qualification": False,
        "min_notice_minutes": 0,
        **extra,
    }
    created: dict[str, object] = api.admin("POST", "/api/v1/resources", body)
    return created


def book(api: Api, role: str, resource: dict[str, object], start: datetime) -> dict[str, object]:
    body = {
        "resource_id": resource["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "purpose": "words test",
    }
    answer = api.call(role, "POST", "/api/v1/bookings", body)
    assert answer.status_code == 201, answer.text
    booked: dict[str, object] = answer.json()
    return booked


def test_someone_elses_booking_is_refused_as_a_page(api: Api) -> None:
    theirs = book(
        api, "other_sme", open_resource(api), datetime(2027, 10, 5, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    )
    client = browser(api)
    log_in(client, *SME)
    page = client.get(f"/bookings/{theirs['id']}?lang=zh")
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "该预约属于其他单位" in page.text and 'href="/me/bookings"' in page.text  # with the navigation
    assert "booking 2147483000 does not exist" in client.get("/bookings/2147483000?lang=en").text
    api_answer = client.get(f"/api/v1/bookings/{theirs['id']}")
    assert api_answer.status_code == 403 and api_answer.json()["detail"]  # the API answers as the API


def test_a_fault_reported_on_the_plan_proposes_moves_listed_until_decided(api: Api) -> None:
    resource = open_resource(api, name_en="Fault test rig")
    booking = book(api, "sme", resource, datetime(2027, 10, 12, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert api.call("operator", "POST", f"/api/v1/bookings/{booking['id']}/approve").status_code == 200
    client = browser(api)
    log_in(client, *OPERATOR)
    page = client.get("/operator/plan?lang=zh").text
    assert 'data-testid="report-fault"' in page and f'value="{resource["id"]}"' in page
    form = {
        "resource_id": resource["id"],
        "start": "2027-10-12T09:00",
        "end": "2027-10-12T13:00",
        "csrf_token": client.cookies["ps_csrf"],
    }
    refused = client.post("/operator/plan/faults", data={**form, "csrf_token": "x"}, follow_redirects=False)
    assert refused.status_code == 303 and "repair=" not in refused.headers["location"]
    answer = client.post("/operator/plan/faults", data=form, follow_redirects=False)
    assert answer.status_code == 303 and "repair=" in answer.headers["location"], answer.text
    repair = int(re.search(r"repair=(\d+)", answer.headers["location"]).group(1))  # type: ignore[union-attr]
    review = client.get(f"/operator/plan?repair={repair}&lang=zh").text
    moves = review[review.index('data-testid="moves"') :]
    moves = moves[: moves.index("</table>")]
    assert (
        f'data-booking="{booking["id"]}"' in moves and "停用（故障），自 10-12 09:00 至 10-12 13:00" in moves
    )
    listed = client.get("/operator/plan?lang=en").text
    row = listed[listed.index(f'data-repair="{repair}"') :]
    assert "fault" in row[:600] and "Fault test rig" in row[:600]
    client.post(f"/operator/plan/repairs/{repair}/dismiss", data={"csrf_token": client.cookies["ps_csrf"]})
    assert f'data-repair="{repair}"' not in client.get("/operator/plan").text
