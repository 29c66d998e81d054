"""Acknowledging an alarm on /live, on both databases: the page's own route with the CSRF token, only for
an operator of the alarm's platform or an administrator; the script gets the alarm back as the API shows
it, a second acknowledgement is refused in the reader's language, and a plain form post goes back to
the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from backend.db import make_engine, unit_of_work
from backend.services.telemetry.twins import AlarmRecord, store_alarms
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration

OPERATOR = ("operator@jinan-bio.demo", "demo-operator-2026")
AUDITOR = ("auditor@sdsti.demo", "demo-auditor-2026")
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(Settings(database_url=database_url))
    yield made
    made.dispose()


def raise_alarm(api: Api, engine: Engine) -> int:
    """An active alarm of a fresh instrument of the operator's platform, stored as ingest stores it."""
    resource = api.admin(
        "POST",
        "/api/v1/resources",
        {"platform_id": api.ids["platform"], "code": unique("LV"), "kind": "instrument", "name": "报警设备"},
    )
    code = unique("TEMP_HIGH")
    record = AlarmRecord(
        resource_id=resource["id"],
        ts=datetime.now(UTC),
        kind="alarm",
        code=code,
        severity="critical",
        message="temperature above limit",
        agent=None,
    )
    with unit_of_work(engine) as session:
        store_alarms(session, [record])
    found = api.call("operator", "GET", "/api/v1/alarms", None).json()["data"]
    return int(next(a["id"] for a in found if a["code"] == code))


def test_live_page_tells_the_script_who_may_acknowledge(api: Api) -> None:
    operator = browser(api)
    log_in(operator, *OPERATOR)
    assert f'data-acknowledges="{api.ids["platform"]}"' in operator.get("/live").text
    auditor = browser(api)
    log_in(auditor, *AUDITOR)
    page = auditor.get("/live").text
    assert 'data-acknowledges=""' in page and "确认" in page  # the button's word, never shown to an auditor


def test_operator_acknowledges_an_alarm_through_the_page(api: Api, engine: Engine) -> None:
    alarm = raise_alarm(api, engine)
    client = browser(api)
    log_in(client, *OPERATOR)
    client.get("/live")
    refused = client.post(f"/live/alarms/{alarm}/ack", headers=JSON)  # no CSRF token
    assert refused.status_code == 403
    assert api.call("operator", "GET", "/api/v1/alarms?state=active").json()["count"] >= 1
    token = {"X-CSRF-Token": client.cookies["ps_csrf"], **JSON}
    done = client.post(f"/live/alarms/{alarm}/ack", headers=token)
    assert done.status_code == 200, done.text
    me = api.call("operator", "GET", "/api/v1/me").json()
    assert done.json()["state"] == "acknowledged" and done.json()["acknowledged_by_id"] == me["id"]
    again = client.post(f"/live/alarms/{alarm}/ack", headers=token)
    assert again.status_code == 409 and "不再" in again.json()["detail"]
    listed = api.call("operator", "GET", "/api/v1/alarms?state=acknowledged").json()["data"]
    assert alarm in [a["id"] for a in listed]


def test_a_plain_form_post_acknowledges_and_goes_back_to_the_page(api: Api, engine: Engine) -> None:
    alarm = raise_alarm(api, engine)
    client = browser(api)
    log_in(client, *OPERATOR)
    client.get("/live")
    answer = client.post(
        f"/live/alarms/{alarm}/ack", data={"csrf_token": client.cookies["ps_csrf"]}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/live"
    listed = api.call("operator", "GET", "/api/v1/alarms?state=acknowledged").json()["data"]
    assert alarm in [a["id"] for a in listed]


@pytest.mark.parametrize("who", ["sme", "auditor", "anonymous"])
def test_only_the_platforms_operators_acknowledge(api: Api, engine: Engine, who: str) -> None:
    alarm = raise_alarm(api, engine)
    client = browser(api)
    if who != "anonymous":
        log_in(client, *(SME if who == "sme" else AUDITOR))
    client.get("/live")
    answer = client.post(
        f"/live/alarms/{alarm}/ack",
        headers={"X-CSRF-Token": client.cookies.get("ps_csrf", ""), **JSON},
        follow_redirects=False,
    )
    if who == "anonymous":
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    else:
        assert answer.status_code == 403 and answer.json()["detail"]
    active = api.call("operator", "GET", "/api/v1/alarms?state=active").json()["data"]
    assert alarm in [a["id"] for a in active]
