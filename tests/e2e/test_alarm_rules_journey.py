"""The operator manages a threshold alarm rule in a real browser, in Chinese and in English: from the
live board to the rules, picks an instrument (the signal choices follow it), is refused a limit that is
no number next to the field with everything typed kept, adds the rule and sees it in words; the rule's
alarm on the live board leads back to it and it counts the alarm; disabling it clears the alarm, and it
is deleted after a confirmation. The page fits a desktop, a tablet and a phone without scrolling sideways."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, Visit
from tests.e2e.test_data_review import PHONE, fits
from tests.e2e.test_operator_journeys import LANGUAGES, TABLET

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
WORDS = {
    "zh": {"refused": "请填写数字", "when": "温度 高于 40 °C", "disabled": "已停用", "deleted": "规则已删除"},
    "en": {
        "refused": "give a number, such as 40",
        "when": "Temperature above 40 °C",
        "disabled": "disabled",
        "deleted": "The rule is deleted",
    },
}


def reporting(stack: Stack, code: str) -> int:
    """The resource's twin as a device's birth message leaves it (no ingest runs in the stack)."""
    from sqlmodel import select

    from backend.db import make_engine, unit_of_work, writer
    from backend.models.resource import Resource
    from backend.models.twin import Twin

    now = datetime.now(UTC).isoformat()
    engine = make_engine(stack.settings)
    with unit_of_work(writer(engine)) as session:
        resource = session.exec(select(Resource).where(Resource.code == code)).one()
        if session.get(Twin, resource.id) is None:
            declared = {"value": "temperature_c[°C],ph[pH],do_pct[%]", "ts": now, "ns": 1}
            session.add(Twin(resource_id=resource.id or 0, reported={"signals": declared}))
        found = int(resource.id or 0)
    engine.dispose()
    return found


def raised(stack: Stack, resource_id: int, code: str) -> None:
    """The rule's alarm, active, as ingest raises it when the signal stays past the limit."""
    from sqlmodel import select

    from backend.db import make_engine, unit_of_work, writer
    from backend.models.alarm_rule import AlarmRule
    from backend.models.twin import Alarm

    engine = make_engine(stack.settings)
    with unit_of_work(writer(engine)) as session:
        rule = session.exec(select(AlarmRule).where(AlarmRule.code == code)).one()
        session.add(
            Alarm(
                resource_id=resource_id,
                ts=datetime.now(UTC),
                kind="alarm",
                code=code,
                severity="critical",
                message="temperature_c 41.2 > 40 for 30 s",
                source="rule",
                rule_id=rule.id,
                open_key=f"rule:{rule.id}",
            )
        )
    engine.dispose()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_operator_adds_disables_and_deletes_an_alarm_rule(visit: Visit, stack: Stack, lang: str) -> None:
    resource = reporting(stack, "F5-2")
    words = WORDS[lang]
    code = f"e2e-hot-{lang}-{uuid.uuid4().hex[:4]}"
    email, password = stack.logins["operator"]
    page = visit.page
    page.set_viewport_size(TABLET)
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/live")
    page.click("[data-testid=alarm-rules-link]")
    expect(page.locator("[data-testid=alarm-rules] tr[data-rule]").first).to_be_visible()

    silent = page.locator("#create-scope option", has_text="F50-1").get_attribute("value")
    page.select_option("#create-scope", silent)  # reported nothing yet: the signal is typed
    expect(page.locator("input#create-signal")).to_be_visible()
    page.select_option("#create-scope", f"resource:{resource}")
    expect(page.locator("select#create-signal option")).to_have_count(3)  # what F5-2 declared
    page.select_option("#create-signal", "temperature_c")
    page.select_option("#create-comparison", "gt")
    page.fill("#create-limit", "forty")
    page.fill("#create-clear_limit", "39")
    page.fill("#create-duration", "30")
    page.select_option("#create-severity", "critical")
    page.fill("#create-code", code)
    page.click("[data-testid=create]")
    expect(page.locator("p.error[data-field=limit]")).to_contain_text(words["refused"])
    expect(page.locator("#create-code")).to_have_value(code)
    expect(page.locator("#create-clear_limit")).to_have_value("39")
    expect(page.locator("#create-signal")).to_have_value("temperature_c")
    expect(page.locator("#create-scope")).to_have_value(f"resource:{resource}")
    visit.shot(f"alarm-rules-refused-{lang}")

    page.fill("#create-limit", "40")
    page.click("[data-testid=create]")
    expect(page.locator("[data-testid=notice]")).to_be_visible()
    row = page.locator("tr[data-rule]", has_text=code)
    expect(row).to_contain_text(words["when"])
    for size, name in ((DESKTOP, "desktop"), (TABLET, "tablet"), (PHONE, "phone")):
        page.set_viewport_size(size)
        fits(visit, f"the alarm rules ({name})")
        visit.shot(f"alarm-rules-{name}-{lang}")
    page.set_viewport_size(TABLET)

    raised(stack, resource, code)  # the live board's alarm leads back to its rule, which counts it
    visit.go("/live")
    page.locator("#alarms li", has_text=code).locator("[data-testid=alarm-rule]").click()
    expect(page.locator("tr[data-rule]", has_text=code).locator("[data-testid^=open-]")).to_have_text("1")
    assert "#rule-" in page.url

    row.locator("[data-testid^=switch-]").click()
    disabled = page.locator("tr[data-rule]", has_text=code)
    expect(disabled.locator("[data-testid^=state-]")).to_have_text(words["disabled"])
    expect(disabled.locator("[data-testid^=open-]")).to_have_text("0")  # cleared by the system
    page.locator("tr[data-rule]", has_text=code).locator("[data-testid^=delete-]").click()
    expect(page.locator("[data-testid=consequence]")).to_be_visible()
    visit.shot(f"alarm-rule-delete-{lang}")
    page.click("[data-testid=confirm-delete]")
    expect(page.locator("[data-testid=notice]")).to_contain_text(words["deleted"])
    expect(page.locator("tr[data-rule]", has_text=code)).to_have_count(0)
    assert visit.foreign_requests() == []
