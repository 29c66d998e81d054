"""The operator reviews telemetry held back from an invoiced month: releases one message in place, on a
tablet and on a phone, in both languages; neither width scrolls sideways, the page nor its table."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, Visit
from tests.e2e.test_operator_journeys import LANGUAGES, TABLET, fits_the_tablet

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def fits(visit: Visit, what: str) -> None:
    """Neither the page nor its first table scrolls sideways (a table may scroll inside its frame
    while the page does not)."""
    fits_the_tablet(visit, what)
    table = visit.page.locator(".table-wrap").first
    overflow = table.evaluate("wrap => wrap.scrollWidth - wrap.clientWidth")
    assert overflow <= 0, f"the table of {what} scrolls sideways by {overflow} px"


def quarantined(stack: Stack, code: str) -> int:
    """A message as ingest quarantines it, written straight to the stack's database (no ingest runs)."""
    from sqlmodel import select

    from backend.db import make_engine, unit_of_work, writer
    from backend.models.resource import Resource
    from backend.models.telemetry_checks import QuarantinedTelemetry

    ns = time.time_ns() - 45 * 86400 * 10**9
    engine = make_engine(stack.settings)
    with unit_of_work(writer(engine)) as session:
        resource = session.exec(select(Resource).where(Resource.code == code)).one()
        row = QuarantinedTelemetry(
            resource_id=resource.id or 0,
            platform_id=resource.platform_id,
            agent=f"edge-{code}-{uuid.uuid4().hex[:4]}",
            reason="settled",
            first_at=datetime.fromtimestamp(ns / 1e9, UTC),
            last_at=datetime.fromtimestamp(ns / 1e9 + 60, UTC),
            samples=[[ns + i * 10**9, {"temperature_c": 36.5, "state": "running"}] for i in range(60)],
        )
        session.add(row)
        session.flush()
        held = int(row.id or 0)
    engine.dispose()
    return held


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operator_releases_held_back_telemetry(visit: Visit, stack: Stack, lang: str) -> None:
    held = quarantined(stack, "F50-1")
    email, password = stack.logins["operator"]
    visit.page.set_viewport_size(TABLET)
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/operator/quarantine")
    row = visit.page.locator(f"tr[data-quarantined='{held}']")
    expect(row).to_contain_text("60 个样本" if lang == "zh" else "60 samples")
    fits(visit, "the data review page")
    visit.shot(f"operator-data-review-tablet-{lang}")
    visit.page.set_viewport_size(PHONE)
    fits(visit, "the data review page on a phone")
    visit.shot(f"operator-data-review-phone-{lang}")
    visit.page.set_viewport_size(TABLET)
    visit.page.fill(
        f"[data-testid=note-{held}]", "迟到的真实数据" if lang == "zh" else "late upload, genuine"
    )
    with visit.page.expect_response(
        lambda r: r.url.endswith("/release") and r.request.method == "POST"
    ) as done:
        visit.page.click(f"[data-testid=release-{held}]")
    assert done.value.status == 200
    expect(visit.page.locator(f"[data-testid=decided-{held}]")).to_have_text(
        "已放行至运行数据" if lang == "zh" else "released into the run data"
    )
    visit.shot(f"operator-data-review-released-{lang}")
