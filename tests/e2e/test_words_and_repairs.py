"""The pages in plain words, in a real browser, in Chinese and in English: organization kinds and roles
as words, resource names in the reader's language, an invoice line in Chinese; and the operator's repair
after a fault: reported on the plan page, each move reviewed with its reason, listed while it waits,
applied, and the SME's booking moved. Screenshots at tablet (1024 px) and phone (390 px) widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, Visit
from tests.e2e.test_operator_journeys import (
    TABLET,
    as_sme,
    fits_the_tablet,
    next_weekday,
    request,
    resource_id,
)

pytestmark = pytest.mark.e2e

LANGUAGES = ["zh", "en"]
PHONE = {"width": 390, "height": 844}


def no_sideways_scroll(visit: Visit, what: str) -> None:
    overflow = visit.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways by {overflow} px"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_operator_reports_a_fault_and_applies_the_repair(visit: Visit, stack: Stack, lang: str) -> None:
    day = next_weekday(9 + LANGUAGES.index(lang), 2)  # a Wednesday weeks ahead
    with as_sme(stack) as api:
        rid = resource_id(api, "F50-1")
        booking = request(
            api,
            {
                "resource_id": rid,
                "start": f"{day}T10:00:00+08:00",
                "end": f"{day}T12:00:00+08:00",
                "purpose": f"e2e fault ({lang})",
            },
        )
    visit.page.set_viewport_size(TABLET)
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/operator/plan")
    visit.page.click("details.fault-form summary")
    form = visit.page.locator("[data-testid=report-fault]")
    form.locator("[name=resource_id]").select_option(str(rid))
    form.locator("[name=start]").fill(f"{day}T09:00")
    form.locator("[name=end]").fill(f"{day}T13:00")
    with visit.page.expect_navigation():
        form.locator("button[type=submit]").click()
    move = visit.page.locator(f"[data-testid=moves] tr[data-booking='{booking['id']}']")
    reason = "F50-1 停用（故障）" if lang == "zh" else "F50-1 is out of service (fault)"
    expect(move).to_contain_text(reason)
    expect(visit.page.locator("[data-testid=repair] h2")).to_contain_text(
        "拟安排" if lang == "zh" else "proposed"
    )
    expect(visit.page.locator("#gantt")).to_have_attribute("data-ready", re.compile(r"^[1-9][0-9]*$"))
    fits_the_tablet(visit, "the repair after a fault")
    visit.shot(f"operator-fault-repair-tablet-{lang}")
    repair = visit.page.url.split("repair=")[1].split("&")[0]

    visit.page.set_viewport_size(PHONE)  # the page drawn for a phone (the chart sizes itself on load)
    visit.go("/operator/plan")  # waiting for a decision: listed with its cause and resource
    expect(visit.page.locator("#gantt")).to_have_attribute("data-ready", re.compile(r"^[1-9][0-9]*$"))
    waiting = visit.page.locator(f"[data-testid=repairs-waiting] tr[data-repair='{repair}']")
    expect(waiting).to_contain_text("故障" if lang == "zh" else "fault")
    expect(waiting).to_contain_text("50 L 中试发酵罐 1号" if lang == "zh" else "50 L pilot fermenter #1")
    no_sideways_scroll(visit, "the plan page on a phone")
    visit.shot(f"operator-repairs-waiting-phone-{lang}")
    waiting.locator("[data-testid=open-repair]").click()
    visit.page.click("[data-testid=apply-repair]")
    expect(visit.page.locator("[data-testid=repair-decided]")).to_be_visible()
    with as_sme(stack) as api:
        moved = api.get(f"/bookings/{booking['id']}").json()
    assert not moved["start"].startswith(f"{day}T10:00"), moved
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_kinds_roles_and_names_read_as_words(visit: Visit, stack: Stack, lang: str) -> None:
    visit.page.set_viewport_size(TABLET)
    email, password = stack.logins["admin"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/admin")
    owner = visit.page.locator("[data-org='jnbio-owner']")
    expect(owner).to_contain_text("平台运营单位" if lang == "zh" else "platform owner")
    expect(visit.page.locator("main")).not_to_contain_text("platform_owner")
    sme_row = visit.page.locator("[data-org='qilu-enzyme']")
    expect(sme_row).to_contain_text("中小企业" if lang == "zh" else "SME")
    visit.shot(f"admin-words-{lang}")
    visit.go("/operator/utilization")
    expect(visit.page.locator("main")).to_contain_text(
        "50 L 中试发酵罐 1号" if lang == "zh" else "50 L pilot fermenter #1"
    )
    if lang == "en":
        expect(visit.page.locator("main")).not_to_contain_text("中试发酵罐")
    visit.shot(f"operator-utilization-names-{lang}")
    assert visit.foreign_requests() == []
