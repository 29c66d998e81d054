"""An SME's whole journey in a real browser, in Chinese and in English: find the 50 L fermenter by
searching 发酵, book a free slot through the form, see it in "my bookings", cancel another booking, read
a past booking's run data and download it, open an invoice; a refusal next to its field; the language
switch keeps the page; nothing is fetched from another host; /docs works offline; the catalog fits a
390 px phone."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, Visit

pytestmark = pytest.mark.e2e

LANGUAGES = ["zh", "en"]


def next_weekday(weeks_ahead: int, weekday: int) -> date:
    today = date.today()
    return today + timedelta(days=7 * weeks_ahead + (weekday - today.weekday()) % 7)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_find_book_and_see_it_in_my_bookings(visit: Visit, stack: Stack, lang: str) -> None:
    email, password = stack.logins["sme"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/")
    visit.page.fill("#q", "发酵")
    visit.page.press("#q", "Enter")
    card = visit.page.locator("article[data-code='F50-1']")
    expect(card).to_be_visible()
    visit.shot(f"catalog-search-{lang}")
    card.locator("a").click()
    expect(visit.page.locator("[data-testid=calendar]")).to_be_visible()
    visit.shot(f"resource-{lang}")

    day = next_weekday(3 + LANGUAGES.index(lang), 1)  # a Tuesday weeks ahead: open, free, within notice
    visit.page.fill("#start", f"{day}T09:00")
    visit.page.fill("#end", f"{day}T11:00")
    visit.page.fill("#purpose", f"e2e scale-up run ({lang})")
    visit.page.click("#booking-form button[type=submit]")
    visit.page.wait_for_url(f"{stack.url}/bookings/*")
    expect(visit.page.locator("h1")).to_contain_text("F50-1")
    visit.go("/me/bookings")
    expect(visit.page.locator("[data-testid=bookings]")).to_contain_text(f"e2e scale-up run ({lang})")
    visit.shot(f"my-bookings-{lang}")
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refusal_is_shown_next_to_its_field(visit: Visit, stack: Stack, lang: str) -> None:
    email, password = stack.logins["sme"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/")
    f50 = visit.page.locator("article[data-code='F50-1'] a")
    f50.click()
    sunday = next_weekday(2, 6)  # the platform is closed on Sundays
    visit.page.fill("#start", f"{sunday}T09:00")
    visit.page.fill("#end", f"{sunday}T10:00")
    visit.page.fill("#purpose", "closed day")
    visit.page.click("#booking-form button[type=submit]")
    error = visit.page.locator("#booking-form .error[data-field=start]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("开放时间" if lang == "zh" else "opening hours")
    visit.shot(f"booking-refused-{lang}")


def test_cancel_a_booking_with_its_fee_shown(visit: Visit, stack: Stack) -> None:
    email, password = stack.logins["sme"]
    visit.login(email, password, then="/me/bookings")
    cancel = visit.page.locator("[data-testid^=cancel-]").first
    expect(cancel).to_be_visible()
    booking_id = (cancel.get_attribute("data-testid") or "").removeprefix("cancel-")
    cancel.click()
    expect(visit.page.locator(".notice")).to_be_visible()
    expect(visit.page.locator(f"tr[data-booking='{booking_id}'] .status")).to_have_class(
        "status status-cancelled"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_run_data_chart_and_csv_of_a_past_booking(visit: Visit, stack: Stack, lang: str) -> None:
    email, password = stack.logins["sme"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/me/bookings")
    ran = {run["booking_id"] for run in stack.runs}
    rows = visit.page.locator("tr[data-booking]")
    ids = [rows.nth(i).get_attribute("data-booking") for i in range(rows.count())]
    past = next(int(i) for i in ids if i and int(i) in ran)
    visit.go(f"/bookings/{past}")
    chart = visit.page.locator("[data-testid=chart] canvas").first
    expect(chart).to_be_visible()
    visit.shot(f"booking-run-data-{lang}")
    with visit.page.expect_download() as download:
        visit.page.click("[data-testid=csv]")
    rows_csv = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows_csv[0][:2] == ["resource", "time"] and len(rows_csv) > 10
    assert "state" not in rows_csv[0]  # averaged signals only: a state is text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_invoice_with_voucher_share(visit: Visit, stack: Stack, lang: str) -> None:
    email, password = stack.logins["sme"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/me/invoices")
    invoice = visit.page.locator("[data-invoice]").first
    expect(invoice).to_be_visible()
    expect(invoice).to_contain_text("创新券" if lang == "zh" else "Innovation voucher")
    # the items in the reader's language, not the English text stored with the issued line
    expect(invoice.locator("td").nth(1)).to_contain_text("使用" if lang == "zh" else "Use")
    expect(invoice).not_to_contain_text("booking ")
    visit.shot(f"invoices-{lang}")


def test_language_switch_keeps_the_page(visit: Visit, stack: Stack) -> None:
    visit.go("/?q=F50")
    expect(visit.page.locator("html")).to_have_attribute("lang", "zh-CN")
    visit.page.click("[data-testid=language]")
    expect(visit.page.locator("html")).to_have_attribute("lang", "en")
    assert "q=F50" in visit.page.url
    visit.go("/")  # remembered
    expect(visit.page.locator("html")).to_have_attribute("lang", "en")
    visit.page.click("[data-testid=language]")
    expect(visit.page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_catalog_fits_a_phone_and_docs_work_offline(visit: Visit, stack: Stack) -> None:
    visit.page.set_viewport_size({"width": 390, "height": 844})
    for lang in LANGUAGES:
        visit.go(f"/?lang={lang}")
        overflow = visit.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the catalog scrolls sideways by {overflow} px at 390 px ({lang})"
        visit.shot(f"catalog-phone-{lang}")
    visit.page.set_viewport_size({"width": 1024, "height": 768})
    visit.go("/docs")
    # big scripts: on a busy machine they take a while to render the spec
    expect(visit.page.locator(".swagger-ui .info .title")).to_contain_text("PilotShare", timeout=60_000)
    visit.go("/redoc")
    expect(visit.page.locator("h1").first).to_contain_text("PilotShare", timeout=60_000)
    assert visit.foreign_requests() == []
