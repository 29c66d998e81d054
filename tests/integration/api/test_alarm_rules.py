"""Threshold alarm rules through the API: the platform's staff write them, auditors read them; bad input
is a 422 naming the field; a rule that goes away clears the alarm it holds open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.db import unit_of_work
from backend.models.booking import Booking, BookingKind
from backend.models.outbox import OutboxMessage
from backend.models.twin import Alarm, Twin
from backend.services.telemetry import rule_watch
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"


def engine_of(api: Api) -> Engine:
    engine: Engine = api.client.app.state.engine  # type: ignore[attr-defined]
    return engine


def rules_url(api: Api) -> str:
    return f"{V1}/platforms/{api.ids['platform']}/alarm-rules"


def declared(api: Api, code: str) -> int:
    """A new resource whose device has declared its signals (as a birth message leaves them)."""
    resource = api.admin(
        "POST",
        f"{V1}/resources",
        {"platform_id": api.ids["platform"], "code": unique(code), "kind": "instrument", "name": "规则"},
    )
    now = datetime.now(UTC)
    with Session(engine_of(api)) as session:
        session.add(
            Twin(
                resource_id=resource["id"],
                reported={
                    "signals": {"value": "temperature_c[°C],ph[pH]", "ts": now.isoformat(), "ns": 1},
                    "temperature_c": {"value": 37.0, "ts": now.isoformat(), "ns": 1},
                },
            )
        )
        session.commit()
    return int(resource["id"])


def rule(resource_id: int, **changes: Any) -> dict[str, Any]:
    body = {
        "resource_id": resource_id,
        "code": unique("hot"),
        "signal": "temperature_c",
        "comparison": ">",
        "limit": 40,
        "clear_limit": 39,
        "duration_seconds": 30,
        "severity": "critical",
    }
    return {**body, **changes}


def test_the_demo_seeds_rules_for_the_simulated_device_types(api: Api) -> None:
    listed = api.call("auditor", "GET", rules_url(api)).json()
    codes = {r["code"]: r for r in listed["data"]}
    assert {"furnace-overheat", "fermenter-ph-low", "fermenter-ph-high"} <= set(codes)
    assert codes["furnace-overheat"]["device_type"] == "furnace"
    assert codes["fermenter-ph-low"]["comparison"] == "<"


def test_operators_write_rules_auditors_read_them_and_others_are_refused(api: Api) -> None:
    resource = declared(api, "RW")
    created = api.call("operator", "POST", rules_url(api), rule(resource))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["limit"] == 40 and body["clear_limit"] == 39 and body["enabled"] is True
    url = f"{rules_url(api)}/{body['id']}"
    assert api.call("auditor", "GET", url).status_code == 200
    assert api.call("auditor", "PATCH", url, {"limit": 41}).status_code == 403
    assert api.call("sme", "GET", rules_url(api)).status_code == 403
    assert api.call("other_operator", "GET", rules_url(api)).status_code == 403
    changed = api.call("operator", "PATCH", url, {"limit": 45, "duration_seconds": 0})
    assert changed.status_code == 200, changed.text
    assert changed.json()["limit"] == 45 and changed.json()["duration_seconds"] == 0
    again = api.call("operator", "POST", rules_url(api), rule(resource, code=body["code"]))
    assert again.status_code == 409 and "code" in again.json()["detail"]
    assert api.call("operator", "DELETE", url).status_code == 204
    assert api.call("operator", "GET", url).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"signal": "temp_c"}, "signal"),
        ({"limit": "NaN"}, "limit"),
        ({"limit": float("inf")}, "limit"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"comparison": "=="}, "comparison"),
        ({"clear_limit": 41}, "clear_limit"),
        ({"signal": "state"}, "signal"),
        ({"severity": "fatal"}, "severity"),
    ],
)
def test_bad_rule_input_is_a_422_naming_the_field(api: Api, changes: dict[str, Any], field: str) -> None:
    resource = declared(api, "BAD")
    body = rule(resource, **changes)
    if (
        changes.get("limit") == "NaN"
    ):  # JSON has no NaN; Python's encoder writes it anyway, as some clients do
        response = api.client.post(
            rules_url(api),
            content=f'{{"resource_id": {resource}, "code": "{unique("n")}", "signal": "temperature_c", '
            '"comparison": ">", "limit": NaN}',
            headers={**api.as_("operator"), "Content-Type": "application/json"},
        )
    elif changes.get("limit") == float("inf"):
        response = api.client.post(
            rules_url(api),
            content=f'{{"resource_id": {resource}, "code": "{unique("n")}", "signal": "temperature_c", '
            '"comparison": ">", "limit": 1e999}',
            headers={**api.as_("operator"), "Content-Type": "application/json"},
        )
    else:
        response = api.call("operator", "POST", rules_url(api), body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(field) or any(
        e["field"] == field for e in response.json().get("errors", [])
    ), response.text


def test_a_rule_on_a_resource_of_another_platform_or_an_unknown_device_type_is_refused(api: Api) -> None:
    resource = declared(api, "X")
    other = api.call(
        "admin", "POST", f"{V1}/platforms/{api.ids['other_platform']}/alarm-rules", rule(resource)
    )
    assert other.status_code == 422 and other.json()["detail"].startswith("resource_id")
    body = rule(resource)
    del body["resource_id"]
    typed = api.call("operator", "POST", rules_url(api), {**body, "device_type": "teapot"})
    assert typed.status_code == 422 and typed.json()["detail"].startswith("device_type")
    both = api.call(
        "operator", "POST", rules_url(api), {**body, "device_type": "furnace", "resource_id": resource}
    )
    assert both.status_code == 422


def test_deleting_a_rule_clears_the_alarm_it_holds_open(api: Api) -> None:
    resource = declared(api, "DEL")
    created = api.call("operator", "POST", rules_url(api), rule(resource)).json()
    with Session(engine_of(api)) as session:
        session.add(
            Alarm(
                resource_id=resource,
                ts=datetime.now(UTC),
                kind="alarm",
                code=created["code"],
                severity="critical",
                source="rule",
                rule_id=created["id"],
                open_key=f"rule:{created['id']}",
            )
        )
        session.commit()
    assert api.call("operator", "DELETE", f"{rules_url(api)}/{created['id']}").status_code == 204
    with Session(engine_of(api)) as session:
        alarm = session.exec(select(Alarm).where(Alarm.resource_id == resource)).one()
    assert alarm.state == "cleared" and alarm.cleared_by_id is None and alarm.open_key is None
    assert alarm.note == "its rule was removed"


def test_a_critical_rule_alarm_during_a_booking_is_tied_to_it_and_told_to_operators_and_the_requester(
    api: Api,
) -> None:
    resource = declared(api, "BK")
    created = api.call("operator", "POST", rules_url(api), rule(resource, duration_seconds=2)).json()
    sme = api.call("sme", "GET", f"{V1}/me").json()
    now = datetime.now(UTC).replace(microsecond=0)
    engine = engine_of(api)
    with unit_of_work(engine) as session:
        booking = Booking(
            platform_id=api.ids["platform"],
            resource_id=resource,
            kind=BookingKind.fixed,
            status="checked_in",
            organization_id=sme["organization_id"],
            user_id=sme["id"],
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=1),
            requested_at=now - timedelta(days=1),
            purpose="rule alarm during a run",
        )
        session.add(booking)
        session.flush()
        booking_id = booking.id
    t0 = int((now - timedelta(minutes=1)).timestamp() * 1e9)
    samples = [(t0 + i * 10**9, {"temperature_c": 45.0}) for i in range(5)]
    rules = rule_watch.RuleBook(engine, refresh_seconds=0).for_resources([resource])
    with unit_of_work(engine) as session:
        outcome = rule_watch.evaluate(session, rules, {resource: samples})
    assert outcome.raised == 1
    with unit_of_work(engine) as session:  # the same samples again (a redelivery): nothing new
        assert rule_watch.evaluate(session, rules, {resource: samples}).raised == 0
    with Session(engine) as session:
        alarm = session.exec(select(Alarm).where(Alarm.rule_id == created["id"])).one()
        told = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.event == "alarm.critical", OutboxMessage.channel == "email"
            )
        ).all()
    assert alarm.booking_id == booking_id and alarm.source == "rule" and alarm.state == "active"
    recipients = {m.recipient for m in told if m.payload.get("alarm_id") == alarm.id}
    operator = api.call("operator", "GET", f"{V1}/me").json()["email"]
    assert {operator, sme["email"]} <= recipients
