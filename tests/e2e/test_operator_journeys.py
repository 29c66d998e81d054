"""The operator's console in a real browser at tablet width (1024 px), in Chinese and in English: an SME's
request waits in the approval queue, the operator approves it in place and the SME's "my bookings" shows
it approved; the operator runs the optimizer over an open flexible request, reviews its proposal on the
Gantt chart and confirms it. Nothing is fetched from another host and no page scrolls sideways."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, Visit

pytestmark = pytest.mark.e2e

LANGUAGES = ["zh", "en"]
TABLET = {"width": 1024, "height": 768}


def next_weekday(weeks_ahead: int, weekday: int) -> date:
    today = date.today()
    return today + timedelta(days=7 * weeks_ahead + (weekday - today.weekday()) % 7)


@contextmanager
def as_sme(stack: Stack) -> Iterator[httpx.Client]:
    """The SME's API client (a script of theirs, not the browser under test)."""
    email, password = stack.logins["sme"]
    with httpx.Client(base_url=stack.url + "/api/v1", timeout=30) as client:
        answer = client.post("/auth/token", data={"username": email, "password": password})
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


def resource_id(api: httpx.Client, code: str) -> int:
    found = api.get("/resources", params={"platform": "jinan-bio", "limit": 100}).json()["data"]
    return int(next(r["id"] for r in found if r["code"] == code))


def request(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/bookings", json=body)
    assert answer.status_code == 201, answer.text
    booking: dict[str, Any] = answer.json()
    return booking


def fits_the_tablet(visit: Visit, what: str) -> None:
    overflow = visit.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways by {overflow} px at 1024 px"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operator_approves_an_sme_request_and_the_sme_sees_it(visit: Visit, stack: Stack, lang: str) -> None:
    visit.page.set_viewport_size(TABLET)
    day = next_weekday(3 + LANGUAGES.index(lang), 2)  # a Wednesday weeks ahead: open and free
    with as_sme(stack) as api:
        booking = request(
            api,
            {
                "resource_id": resource_id(api, "F50-1"),
                "start": f"{day}T13:00:00+08:00",
                "end": f"{day}T15:00:00+08:00",
                "purpose": f"e2e approval ({lang})",
                "hazardous": True,
                "hazard_details": "乙醇 20 L",
            },
        )
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/operator/queue")
    row = visit.page.locator(f"tr#q-{booking['id']}")
    expect(row).to_contain_text(f"e2e approval ({lang})")
    expect(row).to_contain_text("乙醇 20 L")
    expect(row.locator(".sla")).to_be_visible()
    fits_the_tablet(visit, "the approval queue")
    visit.shot(f"operator-queue-{lang}")
    row.locator(f"[data-testid=approve-{booking['id']}]").click()
    decided = visit.page.locator(f"[data-testid=decided-{booking['id']}]")
    expect(decided).to_have_text("已批准" if lang == "zh" else "approved")
    visit.shot(f"operator-queue-approved-{lang}")

    visit.page.context.clear_cookies()
    email, password = stack.logins["sme"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/me/bookings")
    mine = visit.page.locator(f"tr[data-booking='{booking['id']}'] .status")
    expect(mine).to_have_class("status status-approved")
    visit.shot(f"operator-approved-sme-sees-{lang}")
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operator_reviews_the_optimizers_plan_and_confirms_it(visit: Visit, stack: Stack, lang: str) -> None:
    visit.page.set_viewport_size(TABLET)
    monday = next_weekday(6 + LANGUAGES.index(lang), 0)
    with as_sme(stack) as api:
        flexible = request(
            api,
            {
                "duration_minutes": 180,
                "window_start": f"{monday}T08:00:00+08:00",
                "window_end": f"{monday + timedelta(days=4)}T20:00:00+08:00",
                "candidates": [resource_id(api, "HPLC-1")],
                "purpose": f"e2e optimizer ({lang})",
            },
        )
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/operator/plan")
    expect(visit.page.locator("#gantt canvas").first).to_be_visible()
    visit.page.fill("#horizon_start", str(monday))
    visit.page.fill("#horizon_end", str(monday + timedelta(days=6)))
    visit.page.fill("#time_limit", "3")
    visit.page.click("[data-testid=run-optimizer]")
    placed = visit.page.locator(f"[data-testid=placed] tr[data-booking='{flexible['id']}']")
    expect(placed).to_contain_text("HPLC-1")
    solver = ("最优解", "可行解（未证明最优）") if lang == "zh" else ("optimal", "feasible")
    expect(visit.page.locator("[data-testid=solver-status]")).to_have_text(
        re.compile("^(" + "|".join(solver) + ")$")
    )
    gantt = visit.page.locator("#gantt")
    expect(gantt).to_have_attribute("data-ready", re.compile(r"^[1-9][0-9]*$"))  # bars drawn
    fits_the_tablet(visit, "the plan")
    visit.shot(f"operator-plan-proposal-{lang}")
    visit.page.click("[data-testid=confirm-plan]")
    expect(visit.page.locator("[data-testid=confirmed]")).to_be_visible()
    visit.shot(f"operator-plan-confirmed-{lang}")
    with as_sme(stack) as api:
        booked = api.get(f"/bookings/{flexible['id']}").json()
    assert booked["status"] == "approved" and booked["resource"] == "HPLC-1"
    visit.go("/operator/plan?view=month")
    expect(visit.page.locator("#gantt canvas").first).to_be_visible()
    visit.shot(f"operator-plan-month-{lang}")
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operator_adds_maintenance_and_sees_the_bookings_it_hits(
    visit: Visit, stack: Stack, lang: str
) -> None:
    visit.page.set_viewport_size(TABLET)
    day = next_weekday(3 + LANGUAGES.index(lang), 3)  # a Thursday weeks ahead
    with as_sme(stack) as api:
        booking = request(
            api,
            {
                "resource_id": resource_id(api, "F50-1"),
                "start": f"{day}T10:00:00+08:00",
                "end": f"{day}T12:00:00+08:00",
                "purpose": f"e2e maintenance ({lang})",
            },
        )
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/operator/resources")
    fits_the_tablet(visit, "the resource list")
    visit.shot(f"operator-resources-{lang}")
    visit.page.click("[data-testid=resources] tr[data-code='F50-1'] a")
    form = visit.page.locator("[data-testid=add-maintenance]")
    form.locator("[name=start]").fill(f"{day}T09:00")
    form.locator("[name=end]").fill(f"{day}T13:00")
    form.locator("[name=reason]").fill("更换搅拌密封" if lang == "zh" else "replace the agitator seal")
    form.locator("button[type=submit]").click()
    expect(visit.page.locator("[data-testid=saved]")).to_be_visible()
    hit = visit.page.locator(f"[data-testid=maintenance] a[data-booking='{booking['id']}']")
    expect(hit).to_be_visible()
    fits_the_tablet(visit, "the resource page")
    visit.shot(f"operator-maintenance-hits-{lang}")
    visit.page.click("[data-testid=review-repair]")  # the same use case as the API proposed moving it
    expect(visit.page.locator(f"[data-testid=moves] tr[data-booking='{booking['id']}']")).to_be_visible()
    expect(visit.page.locator("#gantt")).to_have_attribute("data-ready", re.compile(r"^[1-9][0-9]*$"))
    fits_the_tablet(visit, "the repair review")
    visit.shot(f"operator-repair-proposal-{lang}")
    visit.page.click("[data-testid=apply-repair]")
    expect(visit.page.locator("[data-testid=repair-decided]")).to_be_visible()
    with as_sme(stack) as api:
        moved = api.get(f"/bookings/{booking['id']}").json()
    assert not moved["start"].startswith(f"{day}T10:00"), moved  # out of the maintenance window
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operator_reads_the_utilization_heatmap_and_downloads_it(
    visit: Visit, stack: Stack, lang: str
) -> None:
    visit.page.set_viewport_size(TABLET)
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/operator/utilization")
    expect(visit.page.locator("#heatmap canvas").first).to_be_visible()
    booked = visit.page.locator("[data-testid=totals] tr[data-code='F50-1'] td").nth(2)
    expect(booked).not_to_have_text("0.0")  # the demo's history (this stack measures no use: no ingest)
    fits_the_tablet(visit, "the utilization page")
    visit.shot(f"operator-utilization-{lang}")
    with visit.page.expect_download() as download:
        visit.page.click("[data-testid=csv]")
    rows = download.value.path().read_text().splitlines()
    assert rows[0].startswith("resource,day,open_hours,booked_hours,used_hours") and len(rows) > 28
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_live_cards_fit_the_tablet_and_filter_by_state(visit: Visit, stack: Stack, lang: str) -> None:
    visit.page.set_viewport_size(TABLET)
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/live")
    expect(visit.page.locator("#twins")).to_have_attribute("data-ready", re.compile(r"^[1-9][0-9]*$"))
    cards = visit.page.locator("#twins .card.twin")
    expect(cards.first).to_be_visible()
    expect(visit.page.locator("#login, form[action='/login']")).to_have_count(0)  # no login form once in
    total = cards.count()
    visit.page.click("[data-filter=running]")
    expect(visit.page.locator("#twins .card.twin:visible")).to_have_count(
        visit.page.locator("#twins .card.twin[data-state=running]").count()
    )
    visit.page.click("[data-filter=all]")
    expect(visit.page.locator("#twins .card.twin:visible")).to_have_count(total)
    fits_the_tablet(visit, "the live page")
    visit.shot(f"live-{lang}")
    assert visit.foreign_requests() == []


def report(
    stack: Stack, code: str, readings: dict[str, Any], alarm: str | None = None, severity: str = "warning"
) -> None:
    """What ingest does with an instrument's messages: merge readings into its twin (online since now)
    and store an alarm. Written straight to the stack's database: this stack runs no broker or ingest."""
    from sqlmodel import select

    from backend.db import make_engine, unit_of_work, writer
    from backend.models.resource import Resource
    from backend.services.telemetry.twins import AlarmRecord, TwinChanges, apply_changes, store_alarms

    engine = make_engine(stack.settings)
    now = datetime.now(UTC)
    with unit_of_work(writer(engine)) as session:
        rid = session.exec(select(Resource.id).where(Resource.code == code)).first()
        assert rid is not None
        change = TwinChanges(connection=("online", now - timedelta(minutes=5), f"agent-{code}"))
        for name, value in readings.items():
            change.read(name, time.time_ns(), value)
        apply_changes(session, {rid: change})
        if alarm:
            store_alarms(session, [AlarmRecord(rid, now, "alarm", alarm, severity, "pH out of range", None)])
    engine.dispose()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_live_card_shows_key_signals_and_changes_state_as_the_twin_does(
    visit: Visit, stack: Stack, lang: str
) -> None:
    visit.page.set_viewport_size(TABLET)
    code = "F50-1" if lang == "zh" else "F50-2"
    report(
        stack,
        code,
        {"state": "idle", "temperature_c": 30.5, "ph": 7.02, "do_pct": 95.0, "acid_ml": 0.0, "locked": True},
        alarm="PH_HIGH",
    )
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/live")
    card = visit.page.locator(f"#twins .card.twin[data-code='{code}']")
    expect(card).to_have_attribute("data-state", "idle")
    expect(card.locator("tr[data-signal]").first).to_contain_text("温度" if lang == "zh" else "Temperature")
    expect(card.locator("tr[data-signal=temperature_c]")).to_contain_text("°C")
    expect(card.locator("tr[data-signal=acid_ml]")).to_have_count(0)  # not a key signal of a fermenter
    expect(card).to_contain_text("联锁：已锁定" if lang == "zh" else "Interlock: locked")
    expect(card).to_contain_text("PH_HIGH")
    report(stack, code, {"state": "running", "temperature_c": 37.0, "locked": False})
    expect(card).to_have_attribute("data-state", "running")  # through the twin stream, no reload
    expect(card.locator("tr[data-signal=temperature_c]")).to_contain_text("37")
    visit.page.click("[data-filter=running]")
    expect(card).to_be_visible()
    visit.shot(f"live-running-{lang}")
    visit.page.click("[data-filter=all]")
    assert visit.foreign_requests() == []


PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operator_acknowledges_an_alarm_on_the_live_page(visit: Visit, stack: Stack, lang: str) -> None:
    """An alarm present -> its card shows it active with severity and since when -> the operator presses
    the button -> the card and the alarm list show it acknowledged, with no reload; the filter finds the
    card on a tablet and on a phone, and neither scrolls sideways."""
    visit.page.set_viewport_size(TABLET)
    code, alarm = ("SD-1", "OUTLET_HIGH_ZH") if lang == "zh" else ("FD-1", "SHELF_HIGH_EN")
    report(stack, code, {"state": "running", "locked": False}, alarm=alarm, severity="critical")
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/live")
    expect(visit.page.locator("#twins")).to_have_attribute("data-alarms-ready", "yes")
    card = visit.page.locator(f"#twins .card.twin[data-code='{code}']")
    item = card.locator("li.alarm", has_text=alarm)
    expect(item).to_have_attribute("data-state", "active")
    expect(card).to_have_attribute("data-alarm", "active")
    expect(item.locator(".sev")).to_have_text("严重" if lang == "zh" else "critical")
    expect(item.locator("[data-testid=alarm-state]")).to_have_text("报警中" if lang == "zh" else "active")
    expect(item).to_contain_text("始于" if lang == "zh" else "since")
    visit.page.click("[data-filter=fault]")
    expect(card).to_be_visible()
    expect(
        visit.page.locator("#twins .card.twin[data-alarm=no][data-state=running] >> visible=true")
    ).to_have_count(0)
    fits_the_tablet(visit, "the live page with an alarm")
    visit.shot(f"live-alarm-tablet-{lang}")
    button = item.get_by_role("button", name="确认" if lang == "zh" else "Acknowledge")
    with visit.page.expect_response(lambda r: r.url.endswith("/ack") and r.request.method == "POST") as done:
        button.click()
    assert done.value.status == 200
    expect(item).to_have_attribute("data-state", "acknowledged")
    expect(item.locator("[data-testid=alarm-state]")).to_have_text(
        "已确认" if lang == "zh" else "acknowledged"
    )
    expect(item.get_by_role("button")).to_have_count(0)
    expect(card).to_have_attribute("data-alarm", "acknowledged")
    listed = visit.page.locator("#alarms li.alarm", has_text=alarm)
    expect(listed).to_have_attribute("data-state", "acknowledged")
    visit.page.set_viewport_size(PHONE)
    visit.page.click("[data-filter=running]")
    expect(card).to_be_visible()
    visit.page.click("[data-filter=offline]")
    expect(card).to_be_hidden()
    visit.page.click("[data-filter=fault]")
    expect(card).to_be_visible()  # acknowledged is still open until it is cleared
    overflow = visit.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the live page scrolls sideways by {overflow} px on a phone"
    visit.shot(f"live-alarm-phone-{lang}")
    visit.page.reload()
    expect(visit.page.locator("#alarms li.alarm", has_text=alarm)).to_have_attribute(
        "data-state", "acknowledged"
    )
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_auditor_sees_alarms_without_the_button(visit: Visit, stack: Stack, lang: str) -> None:
    code, alarm = "F50-1", f"DO_LOW_{lang.upper()}"
    report(stack, code, {"state": "idle"}, alarm=alarm)
    email, password = stack.logins["auditor"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/live")
    item = visit.page.locator(f"#twins .card.twin[data-code='{code}'] li.alarm", has_text=alarm)
    expect(item).to_have_attribute("data-state", "active")
    expect(item.locator(".sev")).to_have_text("警告" if lang == "zh" else "warning")
    expect(visit.page.locator("button[data-ack]")).to_have_count(0)
