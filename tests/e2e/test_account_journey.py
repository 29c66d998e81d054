"""Changing one's own password in a real browser, in Chinese and in English, on a phone (390 px) and a
tablet (1024 px): the navigation leads to "my account"; a weak new password and a wrong current one are
refused next to their fields; the change keeps this browser signed in and logs out another browser
signed in as the same person. Nothing is fetched from another host."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Stack, Visit

pytestmark = pytest.mark.e2e

LANGUAGES = ["zh", "en"]
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
FIRST, NEW = "first-e2e-pass-1", "second-e2e-pass-2027"


def fresh_sme(stack: Stack) -> str:
    """A person of the demo's SME of their own (the demo's logins stay as they are for other journeys)."""
    email, password = stack.logins["admin"]
    with httpx.Client(base_url=stack.url + "/api/v1", timeout=30) as api:
        token = api.post("/auth/token", data={"username": email, "password": password}).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        org = api.get("/organizations", params={"kind": "sme", "limit": 1}).json()["data"][0]["id"]
        address = f"pw-{uuid.uuid4().hex[:8]}@e2e.demo"
        body = {
            "email": address,
            "password": FIRST,
            "full_name": "改密码测试",
            "role": "sme",
            "organization_id": org,
        }
        assert api.post("/users", json=body).status_code == 201
    return address


def fits(visit: Visit, width: int) -> None:
    overflow = visit.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the account page scrolls sideways by {overflow} px at {width} px"


def submit(visit: Visit, current: str, new: str, again: str | None = None) -> None:
    form = visit.page.locator("[data-testid=password-form]")
    form.locator("#current_password").fill(current)
    form.locator("#new_password").fill(new)
    form.locator("#new_password_again").fill(new if again is None else again)
    with visit.page.expect_navigation():
        form.locator("button[type=submit]").click()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_person_changes_their_password_and_other_sessions_end(
    visit: Visit, stack: Stack, browser: Browser, lang: str
) -> None:
    email = fresh_sme(stack)
    other = browser.new_context(viewport=TABLET)  # the same person on another computer
    elsewhere = other.new_page()
    elsewhere.goto(f"{stack.url}/login?next=/me/bookings&lang={lang}")
    elsewhere.fill("#email", email)
    elsewhere.fill("#password", FIRST)
    elsewhere.click("form[action='/login'] button[type=submit]")
    elsewhere.wait_for_url(f"{stack.url}/me/bookings")

    visit.page.set_viewport_size(PHONE)
    visit.go(f"/?lang={lang}")
    visit.login(email, FIRST, then="/me/bookings")
    visit.page.get_by_role("link", name="我的账户" if lang == "zh" else "My account").click()
    visit.page.wait_for_url(f"{stack.url}/account")
    expect(visit.page.locator("[data-testid=about-me]")).to_contain_text(email)
    fits(visit, 390)
    visit.shot(f"account-phone-{lang}")

    submit(visit, FIRST, "12345678")
    refusal = visit.page.locator("[data-field=new_password]")
    expect(refusal).to_have_text(
        "太容易被猜到（常见密码或包含您的邮箱用户名）"
        if lang == "zh"
        else "too easy to guess (a common password or your e-mail's name)"
    )
    fits(visit, 390)
    visit.shot(f"account-weak-phone-{lang}")
    submit(visit, "not-my-password", NEW)
    expect(visit.page.locator("[data-field=current_password]")).to_have_text(
        "当前密码不正确" if lang == "zh" else "the current password is wrong"
    )

    visit.page.set_viewport_size(TABLET)
    submit(visit, FIRST, NEW)
    expect(visit.page.locator("[data-testid=password-changed]")).to_be_visible()
    fits(visit, 1024)
    visit.shot(f"account-changed-tablet-{lang}")
    visit.go("/me/bookings")  # this browser goes on
    expect(visit.page).to_have_url(f"{stack.url}/me/bookings")
    elsewhere.goto(f"{stack.url}/me/bookings")  # the other one is sent to log in
    expect(elsewhere.locator("form[action='/login']")).to_be_visible()
    assert "/login?next=" in elsewhere.url
    other.close()
    visit.page.click("header form[action='/logout'] button")
    visit.login(email, NEW, then="/me/bookings")
    assert visit.foreign_requests() == []
