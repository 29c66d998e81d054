"""The live card shows the commands on their way to an instrument and how the instrument answered, and
follows them through the twin stream without a reload (both languages, tablet width)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, Visit
from tests.e2e.test_operator_journeys import LANGUAGES, TABLET, report

pytestmark = pytest.mark.e2e


def issue_commands(stack: Stack, code: str) -> tuple[str, str]:
    """A setpoint and a lock for `code`, as `pilotshare commands` finds them queued; their ids."""
    from sqlmodel import select

    from backend.db import make_engine, unit_of_work, writer
    from backend.domain.commands import CommandAction
    from backend.models.resource import Resource
    from backend.models.user import User
    from backend.services.devices.commands import issue

    engine = make_engine(stack.settings)
    now = datetime.now(UTC)
    with unit_of_work(writer(engine)) as session:
        resource = session.exec(select(Resource).where(Resource.code == code)).one()
        operator = session.exec(select(User).where(User.email == stack.logins["operator"][0])).one()
        args = {"resource": resource, "expires_at": now + timedelta(minutes=5), "user_id": operator.id}
        setpoint = issue(session, action=CommandAction.setpoint, args={"temperature_sp_c": 37.5}, **args)
        lock = issue(session, action=CommandAction.lock, args={}, **args)
        ids = (setpoint.id, lock.id)
    engine.dispose()
    return ids


def answer(stack: Stack, code: str, command_id: str, ok: bool, error: str | None = None) -> None:
    """What ingest does with the instrument's cmd/ack."""
    from sqlmodel import select

    from backend.db import make_engine, unit_of_work, writer
    from backend.models.resource import Resource
    from backend.services.devices.commands import Ack, record_acks

    engine = make_engine(stack.settings)
    with unit_of_work(writer(engine)) as session:
        rid = session.exec(select(Resource.id).where(Resource.code == code)).one()
        assert record_acks(session, [Ack(rid or 0, command_id, ok, error)]) == 1
    engine.dispose()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_live_card_follows_its_commands(visit: Visit, stack: Stack, lang: str) -> None:
    visit.page.set_viewport_size(TABLET)
    code = "F5-1" if lang == "zh" else "F5-2"
    report(stack, code, {"state": "idle", "temperature_c": 30.0, "locked": False})
    setpoint, lock = issue_commands(stack, code)
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/live")
    card = visit.page.locator(f"#twins .card.twin[data-code='{code}']")
    items = card.locator("[data-testid=command]")
    expect(items).to_have_count(2)
    expect(card.locator("[data-testid=command][data-state=pending]").first).to_contain_text(
        "排队中" if lang == "zh" else "queued"
    )
    expect(card).to_contain_text("temperature_sp_c → 37.5")
    answer(stack, code, setpoint, True)
    answer(stack, code, lock, False, "door open")
    report(stack, code, {"state": "idle"})  # the twin moves on, and its stream carries the answers
    expect(card.locator("[data-testid=command][data-state=applied]")).to_contain_text(
        "已执行" if lang == "zh" else "applied"
    )
    refused = card.locator("[data-testid=command][data-state=refused]")
    expect(refused).to_contain_text("door open")
    expect(refused).to_contain_text("上锁" if lang == "zh" else "lock")
    visit.shot(f"live-commands-{lang}")
