"""An administrator's journey in a real browser, in Chinese and in English: create an organization with
its credit code and actual controller, then a user of it with the SME role; a refusal next to its field;
the page at 1024 px with nothing fetched from another host."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, Visit

pytestmark = pytest.mark.e2e

LANGUAGES = ["zh", "en"]
CREDIT_CODES = {"zh": "91370700MA3QCKB1XU", "en": "91370700MA3QCKB2XW"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_create_an_organization_and_a_user(visit: Visit, stack: Stack, lang: str) -> None:
    visit.page.set_viewport_size({"width": 1024, "height": 768})
    email, password = stack.logins["admin"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/admin")
    code = f"weifang-{lang}"

    visit.page.click("#organizations summary")
    visit.page.fill("#o-code", code)
    visit.page.fill("#o-name", f"潍坊精细化工 {lang}")
    visit.page.select_option("#o-kind", "sme")
    visit.page.fill("#o-credit_code", "91370700MA3QCKB1X")  # one character short
    visit.page.fill("#o-actual_controller", "刘强")
    visit.page.click("#organizations-form button[type=submit]")
    expect(visit.page.locator("#organizations-form .error[data-field=credit_code]")).to_be_visible()
    visit.shot(f"admin-refused-{lang}")
    visit.page.fill("#o-credit_code", CREDIT_CODES[lang])
    visit.page.click("#organizations-form button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*notice=organizations-created"))
    row = visit.page.locator(f"[data-testid=organizations] tr[data-org='{code}']")
    expect(row).to_contain_text(CREDIT_CODES[lang])
    expect(row).to_contain_text("刘强")

    user = f"lin-{lang}@{code}.demo"
    visit.page.click("#users summary")
    visit.page.fill("#u-email", user)
    visit.page.fill("#u-full_name", "林工")
    visit.page.select_option("#u-role", "sme")
    visit.page.select_option("#u-organization_id", label=f"潍坊精细化工 {lang}")
    visit.page.fill("#u-password", "weifang-2026")
    visit.page.click("#users-form button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*notice=users-created"))
    made = visit.page.locator(f"[data-testid=users] tr[data-user='{user}']")
    expect(made).to_contain_text(f"潍坊精细化工 {lang}")
    overflow = visit.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the admin page scrolls sideways by {overflow} px at 1024 px"
    visit.shot(f"admin-created-{lang}")
    assert visit.foreign_requests() == []
