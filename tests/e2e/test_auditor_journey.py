"""The auditor's journey in a real browser, in Chinese and in English, on the demo's eight weeks of history
with the use the instruments measured: open the report for the period, check that the sharing rate is
computed from the inputs it shows, print it (A4), download the CSV, sample five bookings for a spot check
(the seed reproduces them) and open one's run data, verify the audit chain; every page at 1024 px with
nothing fetched from another host."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from backend.db import make_engine, unit_of_work, writer
from backend.domain.usage import Observation
from backend.models.resource import Resource
from backend.services.telemetry import usage
from simulators.history import run_samples
from tests.e2e.conftest import SCREENSHOTS, Stack, Visit

pytestmark = pytest.mark.e2e

LANGUAGES = ["zh", "en"]


@pytest.fixture(scope="module")
def measured(stack: Stack) -> Iterator[None]:
    """The use the instruments reported during the history's runs, as ingest measures it from their
    `state` samples (the same rules, without the broker): the report and the reconciliation count it."""
    engine = make_engine(stack.settings)
    with unit_of_work(writer(engine)) as session:
        ids = {r.code: r.id for r in session.exec(select(Resource))}
        readings: dict[int, list[Observation]] = {}
        for run in stack.runs:
            for sample in run_samples(run):
                at = datetime.fromtimestamp(sample["ts"] / 1e9, UTC)
                resource = ids[str(run["resource"])]
                assert resource is not None
                readings.setdefault(resource, []).append(Observation(at, str(sample["fields"]["state"])))
        usage.record(session, {r: sorted(o, key=lambda x: x.at) for r, o in readings.items()})
    engine.dispose()
    yield


def hours(text: str) -> float:
    found = re.search(r"([\d,]+\.\d+)\s*h", text)
    assert found is not None, text
    return float(found.group(1).replace(",", ""))


def no_sideways_scroll(page: Page, where: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{where} scrolls sideways by {overflow} px at 1024 px"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_inputs_print_and_csv(visit: Visit, stack: Stack, measured: None, lang: str) -> None:
    visit.page.set_viewport_size({"width": 1024, "height": 768})
    email, password = stack.logins["auditor"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/audit/report")
    first = date.today() - timedelta(days=70)
    visit.page.fill("#from", first.isoformat())
    visit.page.fill("#to", date.today().isoformat())
    visit.page.click("form.period button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*from=" + first.isoformat()))
    expect(visit.page.locator("[data-testid=head-hash]")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    no_sideways_scroll(visit.page, f"the report ({lang})")
    visit.shot(f"auditor-report-{lang}")

    # the score's inputs: the sharing rate is external ÷ effective hours, as shown
    rate = visit.page.locator("[data-figure=sharing_rate]")
    external = hours(rate.locator("[data-input=external_hours]").inner_text())
    effective = hours(rate.locator("[data-input=effective_hours]").inner_text())
    assert effective > 0, "the history's runs are measured use"
    shown = float(rate.locator("td.n").get_attribute("data-value") or "nan")
    assert shown == pytest.approx(external / effective, abs=1e-4)
    if visit.page.locator("[data-testid=score]").count():  # the rubric scores the same figure
        scored = visit.page.locator("[data-testid=indicators] tr[data-indicator=sharing_rate] [data-input]")
        assert float(scored.first.get_attribute("data-value") or "nan") == pytest.approx(shown, abs=1e-4)
    else:
        expect(visit.page.locator("[data-testid=score-missing]")).to_be_visible()

    visit.page.emulate_media(media="print")
    expect(visit.page.locator("form.period")).to_be_hidden()
    visit.shot(f"auditor-report-print-{lang}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visit.page.pdf(path=str(Path(SCREENSHOTS) / f"auditor-report-{lang}.pdf"), format="A4")
    visit.page.emulate_media(media="screen")

    with visit.page.expect_download() as download:
        visit.page.click("[data-testid=report-csv]")
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert rows[0] == ["platform", "resource", "figure", "value"]
    figures = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert float(figures[("jinan-bio", "", "effective_hours")]) == pytest.approx(effective, abs=0.01)
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sample_five_bookings_and_open_their_run_data(
    visit: Visit, stack: Stack, measured: None, lang: str
) -> None:
    visit.page.set_viewport_size({"width": 1024, "height": 768})
    email, password = stack.logins["auditor"]
    visit.go(f"/?lang={lang}")
    first = (date.today() - timedelta(days=70)).isoformat()
    visit.login(email, password, then="/audit/report")
    visit.page.click("nav a[href='/audit/reconciliation']")
    visit.page.fill("#from", first)
    visit.page.click("form.recon-filters button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*from=" + first))
    expect(visit.page.locator("[data-testid=counts] [data-category=on_time]")).to_be_visible()
    no_sideways_scroll(visit.page, f"the reconciliation ({lang})")
    visit.page.fill("#sample", "5")
    visit.page.click("[data-testid=sample]")
    visit.page.wait_for_url(re.compile(r".*seed=\d+"))
    sampled = visit.page.locator("[data-testid=sampled] tr[data-booking]")
    expect(sampled).to_have_count(5)
    ids = [sampled.nth(i).get_attribute("data-booking") for i in range(5)]
    seed = visit.page.locator("[data-seed]").get_attribute("data-seed")
    visit.shot(f"auditor-sample-{lang}")

    visit.page.reload()  # the address carries the seed: the same five again
    assert [sampled.nth(i).get_attribute("data-booking") for i in range(5)] == ids
    assert f"seed={seed}" in visit.page.url

    ran = {str(run["booking_id"]) for run in stack.runs}
    chosen = next((i for i in ids if i in ran), ids[0])
    visit.page.click(f"[data-testid=sampled] tr[data-booking='{chosen}'] a")
    visit.page.wait_for_url(f"{stack.url}/bookings/{chosen}")
    expect(visit.page.locator("h1")).to_contain_text(str(chosen))
    if chosen in ran:
        expect(visit.page.locator("[data-testid=chart] canvas").first).to_be_visible()
    visit.shot(f"auditor-sampled-booking-{lang}")
    assert visit.foreign_requests() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_verify_the_audit_chain_and_filter_events(visit: Visit, stack: Stack, lang: str) -> None:
    visit.page.set_viewport_size({"width": 1024, "height": 768})
    email, password = stack.logins["auditor"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/audit/log")
    visit.page.click("[data-testid=verify]")
    expect(visit.page.locator("[data-testid=verdict]")).to_have_attribute("data-ok", "true")
    visit.page.select_option("#action", "booking.approve")
    visit.page.click("form.log-filters button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*action=booking\.approve"))
    rows = visit.page.locator("[data-testid=events] tr[data-seq]")
    expect(rows.first).to_contain_text("booking.approve")
    expect(rows.first).to_contain_text(
        "预约已批准" if lang == "zh" else "booking approved"
    )  # in words, code beside
    no_sideways_scroll(visit.page, f"the audit log ({lang})")
    visit.shot(f"auditor-log-{lang}")
    assert visit.foreign_requests() == []


def test_an_old_printable_report_link_asks_for_the_login_then_shows_the_report(
    visit: Visit, stack: Stack
) -> None:
    visit.go("/api/v1/reports/sharing?from=2026-01-01&to=2026-12-31&platform=jinan-bio&format=html")
    visit.page.wait_for_url(re.compile(r".*/login\?next="))
    email, password = stack.logins["auditor"]
    visit.page.fill("#email", email)
    visit.page.fill("#password", password)
    visit.page.click("form[action='/login'] button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*/audit/report\?"))
    expect(visit.page.locator("[data-testid=head-hash]")).to_be_visible()
