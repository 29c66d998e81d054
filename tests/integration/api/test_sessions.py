"""Logging in and how sessions end, on SQLite and PostgreSQL: throttling per account and per client
address that every replica shares (the database), the same work for unknown and inactive accounts,
tokens that end when the password changes or the account is deactivated, event streams that notice,
and an administration that cannot lock itself out (issue 13's findings)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.services.accounts import login as login_module
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
TOKEN = f"{V1}/auth/token"


def settings_of(api: Api) -> Settings:
    settings: Settings = api.client.app.state.settings  # type: ignore[attr-defined]
    return settings


@pytest.fixture(scope="module")
def replicas(api: Api) -> Iterator[list[TestClient]]:
    """Two more API processes' worth of apps on the same database, with small login limits, each seeing
    its callers from its own address."""
    settings = settings_of(api).model_copy(
        update={"login_account_failures": 3, "login_address_failures": 5, "login_window_seconds": 600}
    )
    with (
        TestClient(create_app(settings), client=("198.51.100.7", 40000)) as one,
        TestClient(create_app(settings), client=("198.51.100.7", 40001)) as two,
    ):
        yield [one, two]


def new_user(api: Api, **extra: Any) -> tuple[dict[str, Any], str]:
    password = "first-password-1"
    body = {
        "email": f"{unique('u')}@sessions.demo",
        "password": password,
        "full_name": "Session Tester",
        "role": "sme",
        "organization_id": api.ids["sme_org"],
        **extra,
    }
    return api.admin("POST", f"{V1}/users", body), password


def log_in(client: TestClient, email: str, password: str) -> Any:
    return client.post(TOKEN, data={"username": email, "password": password})


def bearer(response: Any) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- throttling ---------------------------------------------------------------------------------


def test_an_account_is_throttled_after_its_failures_whichever_replica_hears_them(
    api: Api, replicas: list[TestClient]
) -> None:
    user, password = new_user(api)
    other, other_password = new_user(api)
    one, two = replicas
    for i in range(3):
        assert log_in(replicas[i % 2], user["email"], "wrong-password").status_code == 401
    refused = log_in(two, user["email"], password)  # even the right password waits now
    assert refused.status_code == 429, refused.text
    retry = int(refused.headers["Retry-After"])
    assert 0 < retry <= 600 and refused.json()["retry_after"] == retry
    assert log_in(one, user["email"].upper(), password).status_code == 429  # the same account
    assert log_in(api.client, other["email"], other_password).status_code == 200  # others are not held


def test_an_address_is_throttled_across_accounts_and_others_are_not(
    api: Api, replicas: list[TestClient]
) -> None:
    settings = settings_of(api).model_copy(update={"login_address_failures": 4, "login_window_seconds": 600})
    user, password = new_user(api)
    with (
        TestClient(create_app(settings), client=("203.0.113.9", 1)) as guesser,
        TestClient(create_app(settings), client=("203.0.113.10", 1)) as neighbour,
    ):
        for _ in range(4):
            assert log_in(guesser, f"{unique('nobody')}@sessions.demo", "guess-123").status_code == 401
        assert log_in(guesser, user["email"], password).status_code == 429
        assert log_in(neighbour, user["email"], password).status_code == 200


def test_success_clears_the_account_count(api: Api) -> None:
    settings = settings_of(api).model_copy(update={"login_account_failures": 3, "login_window_seconds": 600})
    user, password = new_user(api)
    with TestClient(create_app(settings), client=("192.0.2.77", 1)) as client:
        for _ in range(2):
            assert log_in(client, user["email"], "wrong-password").status_code == 401
        assert log_in(client, user["email"], password).status_code == 200
        for _ in range(2):
            assert log_in(client, user["email"], "wrong-password").status_code == 401
        assert log_in(client, user["email"], password).status_code == 200  # 2 + 2 failures, not 3


def test_parallel_guesses_cannot_slip_past_the_limit(api: Api) -> None:
    settings = settings_of(api).model_copy(update={"login_account_failures": 3, "login_window_seconds": 600})
    user, _ = new_user(api)
    statuses: list[int] = []
    with TestClient(create_app(settings), client=("192.0.2.44", 1)) as client:

        def guess() -> None:
            statuses.append(log_in(client, user["email"], "wrong-password").status_code)

        threads = [threading.Thread(target=guess) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert len(statuses) == 12 and set(statuses) <= {401, 429}
    assert statuses.count(401) <= 3, statuses


def test_unknown_and_inactive_accounts_cost_the_same_password_check(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = new_user(api)
    api.admin("PATCH", f"{V1}/users/{user['id']}", {"is_active": False})
    checked: list[str] = []
    real = login_module.verify_password

    def counting(candidate: str, hashed: str) -> bool:
        checked.append(hashed)
        return real(candidate, hashed)

    monkeypatch.setattr(login_module, "verify_password", counting)
    for email, secret in ((f"{unique('ghost')}@sessions.demo", "whatever-1"), (user["email"], password)):
        checked.clear()
        response = log_in(api.client, email, secret)
        assert response.status_code == 401 and response.json()["detail"] == "wrong e-mail or password"
        assert len(checked) == 1 and checked[0].startswith("$argon2"), email


# --- how tokens end -----------------------------------------------------------------------------


def test_a_password_change_ends_the_users_tokens_and_feed_urls(api: Api) -> None:
    user, password = new_user(api)
    headers = bearer(log_in(api.client, user["email"], password))
    feed = api.client.get(f"{V1}/me/calendar-url", headers=headers).json()["url"]
    feed_path = feed.split("://", 1)[1].split("/", 1)[1]
    assert api.client.get(f"/{feed_path}").status_code == 200
    api.admin("PATCH", f"{V1}/users/{user['id']}", {"password": "second-password-2"})
    assert api.client.get(f"{V1}/me", headers=headers).status_code == 401
    assert api.client.get(f"/{feed_path}").status_code == 401
    assert log_in(api.client, user["email"], password).status_code == 401
    fresh = bearer(log_in(api.client, user["email"], "second-password-2"))
    assert api.client.get(f"{V1}/me", headers=fresh).status_code == 200


def test_deactivation_ends_tokens_for_good_even_after_reactivation(api: Api) -> None:
    user, password = new_user(api)
    headers = bearer(log_in(api.client, user["email"], password))
    api.admin("PATCH", f"{V1}/users/{user['id']}", {"is_active": False})
    assert api.client.get(f"{V1}/me", headers=headers).status_code == 401
    api.admin("PATCH", f"{V1}/users/{user['id']}", {"is_active": True})
    assert api.client.get(f"{V1}/me", headers=headers).status_code == 401
    assert (
        api.client.get(f"{V1}/me", headers=bearer(log_in(api.client, user["email"], password))).status_code
        == 200
    )


def test_an_open_stream_ends_when_its_user_is_deactivated(api: Api) -> None:
    user, password = new_user(api, role="operator", organization_id=None, platform_id=api.ids["platform"])
    token = bearer(log_in(api.client, user["email"], password))["Authorization"].removeprefix("Bearer ")

    def deactivate_soon() -> None:
        api.admin("PATCH", f"{V1}/users/{user['id']}", {"is_active": False})

    lines: list[str] = []
    with api.client.stream(
        "GET",
        f"{V1}/stream/twins?poll_seconds=0.2&max_seconds=20",
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith(": twins stream"):
                threading.Thread(target=deactivate_soon, daemon=True).start()
            if line.startswith("event: end"):
                break
    assert "event: end" in lines, lines


# --- administration cannot lock itself out ------------------------------------------------------


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(api: Api) -> None:
    me = api.call("admin", "GET", f"{V1}/me").json()
    admins = api.admin("GET", f"{V1}/users?role=admin")["data"]
    for other in admins:
        if other["id"] != me["id"] and other["is_active"]:
            api.admin("PATCH", f"{V1}/users/{other['id']}", {"is_active": False})
    for change, field in (({"role": "auditor"}, "role"), ({"is_active": False}, "is_active")):
        response = api.call("admin", "PATCH", f"{V1}/users/{me['id']}", change)
        assert response.status_code == 409, response.text
        assert response.json()["detail"].startswith(f"{field}: at least one active administrator")
    assert api.call("admin", "GET", f"{V1}/me").json()["role"] == "admin"
    second, _ = new_user(api, role="admin", organization_id=None)
    demoted = api.call("admin", "PATCH", f"{V1}/users/{second['id']}", {"role": "auditor"})
    assert demoted.status_code == 200, demoted.text  # another admin remains: allowed


# --- the web pages log in through the same use case ---------------------------------------------


def _form_login(client: TestClient, email: str, password: str) -> Any:
    client.get("/login")
    form = {"email": email, "password": password, "csrf_token": client.cookies["ps_csrf"]}
    return client.post("/login", data=form, follow_redirects=False)


def test_the_web_login_form_is_throttled_like_the_api(api: Api) -> None:
    settings = settings_of(api).model_copy(update={"login_account_failures": 2, "login_window_seconds": 600})
    user, password = new_user(api)
    with TestClient(create_app(settings), client=("192.0.2.91", 1)) as browser:
        for _ in range(2):
            assert _form_login(browser, user["email"], "wrong-password").status_code == 401
        refused = _form_login(browser, user["email"], password)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        api_refused = log_in(browser, user["email"], password)  # the API counts the same failures
        assert api_refused.status_code == 429


def test_a_password_change_ends_the_web_session_too(api: Api) -> None:
    user, password = new_user(api)
    with TestClient(api.client.app) as browser:
        assert _form_login(browser, user["email"], password).status_code == 303
        assert browser.get(f"{V1}/me").status_code == 200  # the session cookie authenticates
        api.admin("PATCH", f"{V1}/users/{user['id']}", {"password": "second-password-2"})
        assert browser.get(f"{V1}/me").status_code == 401
