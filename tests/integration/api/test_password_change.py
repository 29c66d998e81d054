"""Changing one's own password, on SQLite and PostgreSQL (issue 13: tokens end on a password change):
`POST /api/v1/me/password` with the current password ends every token the account holds and answers a
fresh one; a wrong current password is refused naming the field and counts as a failed log-in (429
after the account's limit); a weak or identical new password is 422 naming `new_password`. The
`/account` page does the same for a browser, which stays signed in while every other session ends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_sessions import log_in, new_user, settings_of
from tests.integration.api.test_web_session import browser
from tests.integration.api.test_web_session import log_in as page_log_in

pytestmark = pytest.mark.integration

V1 = "/api/v1"
NEW = "sturdy-new-pass-2027"


def bearer(answer: Any) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def change(client: TestClient, headers: dict[str, str], current: str, new: str) -> Any:
    return client.post(
        f"{V1}/me/password", json={"current_password": current, "new_password": new}, headers=headers
    )


def test_a_new_password_ends_every_other_token_and_answers_a_fresh_one(api: Api) -> None:
    user, password = new_user(api)
    first = bearer(log_in(api.client, user["email"], password))
    second = bearer(log_in(api.client, user["email"], password))
    done = change(api.client, first, password, NEW)
    fresh = bearer(done)
    assert done.json()["expires_in"] > 0
    for ended in (first, second):
        assert api.client.get(f"{V1}/me", headers=ended).status_code == 401
    assert api.client.get(f"{V1}/me", headers=fresh).json()["email"] == user["email"]
    assert log_in(api.client, user["email"], password).status_code == 401
    assert log_in(api.client, user["email"], NEW).status_code == 200
    events = api.call("auditor", "GET", f"{V1}/audit/events?subject=user&subject_id={user['id']}")
    assert [e["action"] for e in events.json()["data"]] == ["user.password_changed"], events.text


@pytest.mark.parametrize(
    ("new", "says"),
    [
        ("first-password-1", "differ"),  # the current one
        ("password", "guess"),
        ("{name}-x9", "guess"),  # the e-mail's name inside
        ("aaaa1111", "different characters"),
        ("short", "8 characters"),
    ],
)
def test_a_weak_or_identical_password_is_refused_naming_the_field(api: Api, new: str, says: str) -> None:
    user, password = new_user(api)
    new = new.format(name=user["email"].split("@")[0])
    token = bearer(log_in(api.client, user["email"], password))
    answer = change(api.client, token, password, new)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("new_password: ") and says in answer.json()["detail"]
    assert api.client.get(f"{V1}/me", headers=token).status_code == 200  # nothing ended
    assert log_in(api.client, user["email"], password).status_code == 200


def test_a_wrong_current_password_is_refused_and_throttled_like_a_log_in(api: Api) -> None:
    settings = settings_of(api).model_copy(update={"login_account_failures": 3, "login_window_seconds": 600})
    user, password = new_user(api)
    with TestClient(create_app(settings), client=("192.0.2.91", 1)) as client:
        token = bearer(log_in(client, user["email"], password))
        for _ in range(3):
            wrong = change(client, token, "not-the-password", NEW)
            assert wrong.status_code == 403 and wrong.json()["field"] == "current_password", wrong.text
        throttled = change(client, token, password, NEW)  # even the right one waits now
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        assert log_in(client, user["email"], password).status_code == 429  # the same count as logging in
    assert api.client.get(f"{V1}/me", headers=token).status_code == 200


def test_anonymous_and_malformed_bodies_are_refused(api: Api) -> None:
    assert (
        api.client.post(f"{V1}/me/password", json={"current_password": "x", "new_password": NEW}).status_code
        == 401
    )
    user, password = new_user(api)
    token = bearer(log_in(api.client, user["email"], password))
    extra = api.client.post(
        f"{V1}/me/password", json={"current_password": password, "new_password": NEW, "x": 1}, headers=token
    )
    assert extra.status_code == 422
    long = change(api.client, token, password, "y" * 129)
    assert long.status_code == 422 and "new_password" in long.json()["detail"]


def test_the_account_page_changes_the_password_and_keeps_this_browser_signed_in(api: Api) -> None:
    user, password = new_user(api, email=f"{unique('page')}@sessions.demo")
    here, elsewhere = browser(api), browser(api)
    page_log_in(here, user["email"], password)
    page_log_in(elsewhere, user["email"], password)
    page = here.get("/account")
    assert page.status_code == 200 and user["email"] in page.text and 'href="/account"' in page.text
    csrf = here.cookies["ps_csrf"]
    form = {
        "csrf_token": csrf,
        "current_password": "wrong-one-123",
        "new_password": NEW,
        "new_password_again": NEW,
    }
    wrong = here.post("/account/password", data=form)
    assert (
        wrong.status_code == 403
        and 'data-field="current_password"' in wrong.text
        and "当前密码不正确" in wrong.text
    )
    differ = here.post(
        "/account/password", data={**form, "current_password": password, "new_password_again": "x"}
    )
    assert differ.status_code == 422 and 'data-field="new_password_again"' in differ.text
    weak = here.post(
        "/account/password?lang=en",
        data={
            **form,
            "current_password": password,
            "new_password": "12345678",
            "new_password_again": "12345678",
        },
    )
    assert (
        weak.status_code == 422
        and 'data-field="new_password"' in weak.text
        and "too easy to guess" in weak.text
    )
    no_csrf = here.post("/account/password", data={**form, "csrf_token": "x", "current_password": password})
    assert no_csrf.status_code == 403 and log_in(api.client, user["email"], password).status_code == 200
    done = here.post("/account/password", data={**form, "current_password": password})
    assert done.status_code == 200 and 'data-testid="password-changed"' in done.text
    assert here.get("/account", follow_redirects=False).status_code == 200  # renewed cookie
    gone = elsewhere.get("/account", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/login?next=%2Faccount"
    assert log_in(api.client, user["email"], NEW).status_code == 200


@pytest.mark.parametrize("role", ["sme", "operator", "auditor", "admin"])
def test_every_signed_in_role_finds_the_account_page(api: Api, role: str) -> None:
    logins = {
        "sme": ("qilu@qilu-enzyme.demo", "demo-sme-2026"),
        "operator": ("operator@jinan-bio.demo", "demo-operator-2026"),
        "auditor": ("auditor@sdsti.demo", "demo-auditor-2026"),
        "admin": ("admin@pilotshare.demo", "demo-admin-2026"),
    }
    client = browser(api)
    page_log_in(client, *logins[role])
    assert 'href="/account"' in client.get("/").text
    assert "修改密码" in client.get("/account").text
    assert 'href="/account"' not in browser(api).get("/").text
