"""The alarm-rule pages on both databases: who opens them (SMEs refused, auditors read without forms),
a rule created, changed, disabled and deleted through the forms and read back through the JSON API;
bad numbers refused next to their field in the reader's language with everything typed kept; the
signal choices of the instrument chosen (the fragment htmx swaps in); the open alarms a rule holds; a
form without the CSRF token changes nothing."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.models.twin import Alarm
from tests.integration.api.conftest import Api, unique
from tests.integration.api.test_alarm_rules import declared, engine_of, rules_url
from tests.integration.api.test_web_operator_queue import HTMX, OPERATOR
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration

AUDITOR = ("auditor@sdsti.demo", "demo-auditor-2026")
PAGE = "/operator/alarm-rules"


def signed_in(api: Api, who: tuple[str, str]) -> TestClient:
    client = browser(api)
    log_in(client, *who)
    client.get(PAGE)
    return client


def rules(api: Api) -> dict[str, dict[str, Any]]:
    listed = api.call("operator", "GET", rules_url(api)).json()["data"]
    return {r["code"]: r for r in listed}


def form(resource_id: int, **changes: str) -> dict[str, str]:
    return {
        "scope": f"resource:{resource_id}",
        "code": unique("hot"),
        "name": "",
        "signal": "temperature_c",
        "comparison": "gt",
        "limit": "40",
        "clear_limit": "39",
        "duration": "30",
        "severity": "critical",
        "enabled": "true",
        **changes,
    }


def field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="error" data-field="{field}">([^<]*)</p>', page)
    assert found, f"no refusal next to {field}"
    return html.unescape(found.group(1))


def kept(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="text"[^>]* value="([^"]*)"', page)
    assert found, f"no {name} field"
    return html.unescape(found.group(1))


def test_who_opens_the_page(api: Api) -> None:
    anonymous = browser(api).get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    sme = browser(api)
    log_in(sme, *SME)
    refused = sme.get(PAGE + "?lang=en")
    assert refused.status_code == 403 and "alarm rules are for platform operators" in refused.text
    operator = signed_in(api, OPERATOR)
    assert 'href="/operator/alarm-rules"' in operator.get("/").text  # the navigation leads there
    page = operator.get(PAGE + "?lang=en").text
    assert 'data-testid="create-rule"' in page and "every fermenter" in page
    assert "pH below 6.5" in page and "at or above 6.6" in page  # the seeded rule, in words
    auditor = signed_in(api, AUDITOR)
    read = auditor.get(PAGE + "?lang=en")
    assert read.status_code == 200 and "fermenter-ph-low" in read.text
    assert 'data-testid="create-rule"' not in read.text and 'data-testid="switch-' not in read.text
    assert 'href="/operator/alarm-rules"' in auditor.get("/").text


def test_create_change_disable_and_delete_a_rule(api: Api) -> None:
    resource = declared(api, "WR")
    client = signed_in(api, OPERATOR)
    csrf = client.cookies["ps_csrf"]
    typed = form(resource)
    created = client.post(PAGE, data={**typed, "csrf_token": csrf}, follow_redirects=False)
    assert created.status_code == 303, created.text
    rule = rules(api)[typed["code"]]
    assert (rule["resource_id"], rule["comparison"], rule["limit"], rule["clear_limit"]) == (
        resource,
        ">",
        40,
        39,
    )
    assert rule["duration_seconds"] == 30 and rule["severity"] == "critical" and rule["enabled"] is True
    assert rule["name"] == "温度 高于 40"  # no name typed: the condition in the reader's words
    assert created.headers["location"] == f"{PAGE}?notice=created#rule-{rule['id']}"
    listing = client.get(f"{PAGE}?notice=created&lang=en").text
    assert f'id="rule-{rule["id"]}"' in listing and "The rule is added" in listing

    edit = client.get(f"{PAGE}/{rule['id']}?lang=en").text
    assert kept(edit, "limit") == "40" and kept(edit, "clear_limit") == "39"
    changed = {**typed, "name": "Jacket too hot", "comparison": "ge", "limit": "42.5", "clear_limit": ""}
    saved = client.post(f"{PAGE}/{rule['id']}", data={**changed, "csrf_token": csrf}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    rule = rules(api)[typed["code"]]
    assert (rule["name"], rule["comparison"], rule["limit"], rule["clear_limit"]) == (
        "Jacket too hot",
        ">=",
        42.5,
        None,
    )

    disabled = client.post(
        f"{PAGE}/{rule['id']}/enabled", data={"enabled": "", "csrf_token": csrf}, follow_redirects=False
    )
    assert disabled.status_code == 303 and rules(api)[typed["code"]]["enabled"] is False
    assert "已停用" in client.get(PAGE + "?lang=zh").text

    asked = client.get(f"{PAGE}/{rule['id']}/delete?lang=en")
    assert asked.status_code == 200 and "It holds no alarm open." in asked.text
    assert typed["code"] in rules(api)  # asking deletes nothing
    deleted = client.post(f"{PAGE}/{rule['id']}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert deleted.status_code == 303 and typed["code"] not in rules(api)


@pytest.mark.parametrize(
    ("limit", "english", "chinese"),
    [
        ("1e309", "give a number between -1,000,000,000,000 and 1,000,000,000,000", "请填写介于"),
        ("forty", "give a number, such as 40", "请填写数字"),
        ("", "give a number, such as 40", "请填写数字"),
        ("-2e12", "give a number between -1,000,000,000,000 and 1,000,000,000,000", "请填写介于"),
    ],
)
def test_a_bad_limit_is_refused_next_to_it_and_nothing_typed_is_lost(
    api: Api, limit: str, english: str, chinese: str
) -> None:
    resource = declared(api, "BL")
    client = signed_in(api, OPERATOR)
    typed = form(resource, limit=limit, name="夹套温度过高", clear_limit="39.5", duration="45")
    for lang, words in (("en", english), ("zh", chinese)):
        refused = client.post(f"{PAGE}?lang={lang}", data={**typed, "csrf_token": client.cookies["ps_csrf"]})
        assert refused.status_code == 422
        assert words in field_error(refused.text, "limit")
        assert [kept(refused.text, f) for f in ("limit", "clear_limit", "duration", "name", "code")] == [
            limit,
            "39.5",
            "45",
            "夹套温度过高",
            typed["code"],
        ]
        assert f'<option value="resource:{resource}" selected>' in refused.text
        assert 'value="gt" selected' in refused.text and 'value="critical" selected' in refused.text
    assert typed["code"] not in rules(api)


def test_other_refusals_next_to_their_field_in_the_readers_language(api: Api) -> None:
    resource = declared(api, "RF")
    client = signed_in(api, OPERATOR)
    csrf = client.cookies["ps_csrf"]
    unknown = client.post(PAGE, data={**form(resource, signal="temp_c"), "csrf_token": csrf})
    assert unknown.status_code == 422
    assert "这些设备没有上报信号" in field_error(unknown.text, "signal")
    backwards = client.post(f"{PAGE}?lang=en", data={**form(resource, clear_limit="41"), "csrf_token": csrf})
    assert "must not be above the limit (40)" in field_error(backwards.text, "clear_limit")
    bad_code = client.post(f"{PAGE}?lang=en", data={**form(resource, code="hot water!"), "csrf_token": csrf})
    assert "letters, digits" in field_error(bad_code.text, "code")
    for seconds in ("-3", "999999"):
        too_long = client.post(
            f"{PAGE}?lang=en", data={**form(resource, duration=seconds), "csrf_token": csrf}
        )
        assert field_error(too_long.text, "duration") == "give the seconds, from 0 to 604,800 (a week)"

    typed = form(resource)
    assert client.post(PAGE, data={**typed, "csrf_token": csrf}, follow_redirects=False).status_code == 303
    again = client.post(f"{PAGE}?lang=en", data={**typed, "csrf_token": csrf})
    assert "has the code" in field_error(again.text, "code")
    rule = rules(api)[typed["code"]]
    changed = client.post(
        f"{PAGE}/{rule['id']}?lang=zh", data={**typed, "clear_limit": "45", "limit": "40", "csrf_token": csrf}
    )
    assert changed.status_code == 422 and "不得高于" in field_error(changed.text, "clear_limit")
    assert kept(changed.text, "clear_limit") == "45" and rules(api)[typed["code"]]["clear_limit"] == 39


def test_the_signal_field_follows_the_instrument_chosen(api: Api) -> None:
    resource = declared(api, "SG")
    client = signed_in(api, OPERATOR)
    fragment = client.get(f"{PAGE}?lang=en&scope=resource:{resource}", headers=HTMX).text
    assert "<html" not in fragment and 'id="create-signal-field"' in fragment
    assert re.findall(r'<option value="([^"]+)"', fragment) == ["ph", "temperature_c"]
    assert ">Temperature (°C)</option>" in fragment


def test_a_rule_shows_the_alarms_it_holds_open(api: Api) -> None:
    resource = declared(api, "OA")
    client = signed_in(api, OPERATOR)
    typed = form(resource)
    client.post(PAGE, data={**typed, "csrf_token": client.cookies["ps_csrf"]})
    rule = rules(api)[typed["code"]]
    with Session(engine_of(api)) as session:
        for state in ("active", "acknowledged", "cleared"):
            session.add(
                Alarm(
                    resource_id=resource,
                    ts=datetime.now(UTC),
                    kind="alarm",
                    code=f"{typed['code']}-{state}",
                    severity="critical",
                    source="rule",
                    rule_id=rule["id"],
                    state=state,
                )
            )
        session.commit()
    listing = client.get(PAGE).text
    assert re.search(rf'data-testid="open-{rule["id"]}"><a href="/live">2</a>', listing)
    asked = client.get(f"{PAGE}/{rule['id']}/delete?lang=en").text
    assert "It holds 2 alarms open; the system clears them" in asked


def test_without_the_csrf_token_or_as_an_auditor_nothing_changes(api: Api) -> None:
    resource = declared(api, "CS")
    client = signed_in(api, OPERATOR)
    typed = form(resource)
    refused = client.post(PAGE + "?lang=en", data=typed)
    assert refused.status_code == 422 and "The form has expired" in refused.text
    assert typed["code"] not in rules(api)
    client.post(PAGE, data={**typed, "csrf_token": client.cookies["ps_csrf"]})
    rule = rules(api)[typed["code"]]
    assert client.post(f"{PAGE}/{rule['id']}/delete").status_code == 422
    auditor = signed_in(api, AUDITOR)
    platform = "?platform=jinan-bio&lang=en"
    tried = auditor.post(
        f"{PAGE}/{rule['id']}/enabled{platform}",
        data={"enabled": "", "csrf_token": auditor.cookies["ps_csrf"]},
    )
    assert tried.status_code == 422 and "auditors have read-only access" in tried.text
    assert rules(api)[typed["code"]]["enabled"] is True
