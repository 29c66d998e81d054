"""The admin page on both databases: organizations (credit code, actual controller), users and platforms
created and edited through the forms, read back through the JSON API; refusals next to their field (as a
fragment for htmx); a deactivated user can no longer log in; no form works without its CSRF token, and
nobody but an admin gets in."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.domain.credit_code import check_digit
from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_web_session import browser, log_in

pytestmark = pytest.mark.integration

ADMIN = ("admin@pilotshare.demo", "demo-admin-2026")
AUDITOR = ("auditor@sdsti.demo", "demo-auditor-2026")


def credit_code() -> str:
    first = "9137010" + "".join(random.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(10))
    return first + check_digit(first)


def admin(api: Api) -> TestClient:
    client = browser(api)
    log_in(client, *ADMIN)
    return client


def post(client: TestClient, path: str, form: dict[str, str], **kwargs: Any) -> Any:
    return client.post(
        path, data={**form, "csrf_token": client.cookies["ps_csrf"]}, follow_redirects=False, **kwargs
    )


def organization(api: Api, code: str) -> dict[str, Any]:
    found = api.admin("GET", f"/api/v1/organizations?q={code}")["data"]
    assert len(found) == 1, found
    row: dict[str, Any] = found[0]
    return row


def test_create_and_edit_an_organization(api: Api) -> None:
    client = admin(api)
    code, credit = unique("sme"), credit_code()
    form = {"code": code, "name": "潍坊化工", "kind": "sme", "credit_code": credit}
    form["actual_controller"] = "刘强"
    answer = post(client, "/admin/organizations", form)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin?notice=")
    made = organization(api, code)
    assert (made["credit_code"], made["actual_controller"], made["kind"]) == (credit, "刘强", "sme")
    assert code in client.get(answer.headers["location"]).text

    edited = post(client, f"/admin/organizations/{made['id']}", {**form, "actual_controller": "刘强、王敏"})
    assert edited.status_code == 303
    assert organization(api, code)["actual_controller"] == "刘强、王敏"


def test_refusals_are_shown_next_to_their_field(api: Api) -> None:
    client = admin(api)
    taken = organization(api, "qilu-enzyme")
    form = {"code": "qilu-enzyme", "name": "重复", "kind": "sme"}
    fragment = post(client, "/admin/organizations", form, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert re.search(r'class="error" data-field="code">[^<]*qilu-enzyme', fragment.text), fragment.text
    bad_code = post(client, "/admin/organizations", {**form, "code": unique("x"), "credit_code": "123"})
    assert bad_code.status_code == 422 and 'data-field="credit_code"' in bad_code.text
    assert organization(api, "qilu-enzyme")["id"] == taken["id"]
    sme_without_org = {
        "email": f"{unique('u')}@example.com",
        "full_name": "无单位",
        "role": "sme",
        "password": "long-enough-1",
    }
    refused = post(client, "/admin/users", sme_without_org)
    assert refused.status_code == 422 and 'data-field="organization_id"' in refused.text


def test_create_a_user_then_deactivate_and_reactivate_it(api: Api) -> None:
    client = admin(api)
    email = f"{unique('member')}@qilu-enzyme.demo"
    form = {
        "email": email,
        "full_name": "新成员",
        "role": "sme",
        "organization_id": str(api.ids["sme_org"]),
        "platform_id": "",
        "password": "new-member-2026",
    }
    assert post(client, "/admin/users", form).status_code == 303
    user = api.admin("GET", f"/api/v1/users?q={email}")["data"][0]
    assert (user["role"], user["organization_id"], user["is_active"]) == ("sme", api.ids["sme_org"], True)
    member = browser(api)
    log_in(member, email, "new-member-2026")

    assert post(client, f"/admin/users/{user['id']}", {"is_active": "false"}).status_code == 303
    assert api.admin("GET", f"/api/v1/users/{user['id']}")["is_active"] is False
    assert member.get("/me/bookings", follow_redirects=False).status_code == 303  # the session ends with it
    again = browser(api)
    again.get("/login")
    refused = post(again, "/login", {"email": email, "password": "new-member-2026"})
    assert refused.status_code == 401

    assert post(client, f"/admin/users/{user['id']}", {"is_active": "true"}).status_code == 303
    assert api.admin("GET", f"/api/v1/users/{user['id']}")["is_active"] is True


def test_create_and_unpublish_a_platform(api: Api) -> None:
    client = admin(api)
    code = unique("weifang")
    form = {"code": code, "name": "潍坊中试基地", "city": "潍坊", "industry": "化工"}
    form["timezone"] = "Asia/Shanghai"
    assert post(client, "/admin/platforms", form).status_code == 303
    made = api.admin("GET", f"/api/v1/platforms?q={code}")["data"][0]
    assert made["published"] is True
    edit = {k: v for k, v in form.items() if k != "code"} | {"published": "false"}
    assert post(client, f"/admin/platforms/{made['id']}", edit).status_code == 303
    assert api.admin("GET", f"/api/v1/platforms/{made['id']}")["published"] is False


def test_forms_without_the_csrf_token_are_refused(api: Api) -> None:
    client = admin(api)
    code = unique("csrf")
    answer = client.post("/admin/organizations", data={"code": code, "name": "x", "kind": "sme"})
    assert answer.status_code == 403
    assert api.admin("GET", f"/api/v1/organizations?q={code}")["count"] == 0


def test_only_admins_get_in(api: Api) -> None:
    client = browser(api)
    assert client.get("/admin", follow_redirects=False).status_code == 303  # to the login
    log_in(client, *AUDITOR)
    page = client.get("/admin")
    assert page.status_code == 403 and 'role="alert"' in page.text
    edit = client.get(f"/admin/users/{api.user_ids.get('auditor', 1)}")
    assert edit.status_code == 403 and 'role="alert"' in edit.text
    code = unique("audit")
    refused = post(client, "/admin/organizations", {"code": code, "name": "x", "kind": "sme"})
    assert refused.status_code == 403
    assert api.admin("GET", f"/api/v1/organizations?q={code}")["count"] == 0
    assert 'href="/admin"' not in page.text
