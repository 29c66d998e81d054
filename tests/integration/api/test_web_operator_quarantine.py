"""The data-review page on both databases: who opens it, the quarantined messages waiting, release and
discard in place (the row htmx swaps in), read back through the JSON API; a form without the CSRF token
changes nothing; auditors read the list without buttons."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Api
from tests.integration.api.test_quarantine import _quarantined
from tests.integration.api.test_web_operator_queue import HTMX, operator
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration

AUDITOR = ("auditor@sdsti.demo", "demo-auditor-2026")


def _decision(api: Api, held: int) -> str | None:
    rows = api.call("operator", "GET", "/api/v1/quarantine?limit=500").json()["data"]
    decision: str | None = next(r["decision"] for r in rows if r["id"] == held)
    return decision


def test_who_opens_the_page(api: Api) -> None:
    anonymous = browser(api).get("/operator/quarantine", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    sme = browser(api)
    log_in(sme, *SME)
    assert sme.get("/operator/quarantine").status_code == 403
    assert "数据复核" in operator(api).get("/").text  # the navigation leads there


def test_release_and_discard_in_place(api: Api) -> None:
    first, _ = _quarantined(api)
    second, _ = _quarantined(api, "F5-2")
    client = operator(api)
    page = client.get("/operator/quarantine?lang=en")
    assert page.status_code == 200
    assert f'data-quarantined="{first}"' in page.text and "Waiting for review" in page.text
    csrf = client.cookies["ps_csrf"]

    released = client.post(
        f"/operator/quarantine/{first}/release",
        data={"csrf_token": csrf, "note": "迟到的真实数据"},
        headers=HTMX,
    )
    assert released.status_code == 200 and "<html" not in released.text
    assert f'data-testid="decided-{first}"' in released.text and "released into the run data" in released.text
    assert _decision(api, first) == "release"

    discarded = client.post(f"/operator/quarantine/{second}/discard", data={"csrf_token": csrf}, headers=HTMX)
    assert f'data-testid="decided-{second}"' in discarded.text and "discarded" in discarded.text
    assert _decision(api, second) == "discard"
    waiting = client.get("/operator/quarantine").text
    assert f'data-quarantined="{first}"' not in waiting and f'data-quarantined="{second}"' not in waiting
    assert f'data-quarantined="{first}"' in client.get("/operator/quarantine?show=all").text

    again = client.post(f"/operator/quarantine/{first}/discard", data={"csrf_token": csrf}, headers=HTMX)
    assert 'class="error"' in again.text and _decision(api, first) == "release"


def test_without_the_csrf_token_nothing_changes(api: Api) -> None:
    held, _ = _quarantined(api)
    client = operator(api)
    client.get("/operator/quarantine")
    refused = client.post(f"/operator/quarantine/{held}/discard", headers=HTMX)
    assert 'class="error"' in refused.text
    assert _decision(api, held) is None


def test_auditors_read_without_buttons(api: Api) -> None:
    held, _ = _quarantined(api)
    auditor = browser(api)
    log_in(auditor, *AUDITOR)
    page = auditor.get("/operator/quarantine?lang=en")
    assert page.status_code == 200 and f'data-quarantined="{held}"' in page.text
    assert f'data-testid="release-{held}"' not in page.text
    assert "waiting for the platform" in page.text
    posted = auditor.post(
        f"/operator/quarantine/{held}/discard", data={"csrf_token": auditor.cookies["ps_csrf"]}, headers=HTMX
    )
    assert 'class="error"' in posted.text and _decision(api, held) is None
