"""Alarms have a lifecycle: active → acknowledged → cleared, with who and when; a critical alarm during
a booking is tied to it and tells the platform's operators and the booking's requester."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.db import make_engine, unit_of_work
from backend.models.booking import Booking, BookingKind
from backend.models.outbox import OutboxMessage
from backend.models.twin import Alarm
from backend.services.telemetry.twins import AlarmRecord, store_alarms
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(Settings(database_url=database_url))
    yield made
    made.dispose()


@pytest.fixture(scope="module")
def raised(api: Api, engine: Engine) -> dict[str, Any]:
    """As ingest stores them: a warning with no booking running, and a critical alarm during an SME's
    booking (delivered twice, as at-least-once delivery may)."""
    resource = api.admin(
        "POST",
        f"{V1}/resources",
        {"platform_id": api.ids["platform"], "code": unique("AL"), "kind": "instrument", "name": "告警"},
    )
    sme = api.call("sme", "GET", f"{V1}/me").json()
    now = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(engine) as session:
        booking = Booking(
            platform_id=api.ids["platform"],
            resource_id=resource["id"],
            kind=BookingKind.fixed,
            status="checked_in",
            organization_id=sme["organization_id"],
            user_id=sme["id"],
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=1),
            requested_at=now - timedelta(days=1),
            purpose="alarm test",
        )
        session.add(booking)
        session.flush()
        records = [
            AlarmRecord(
                resource["id"], now - timedelta(hours=3), "alarm", "PH_DRIFT", "warning", "pH 7.6", "a1"
            ),
            AlarmRecord(resource["id"], now, "alarm", "TEMP_HIGH", "critical", "jacket 92 °C", "a1"),
        ]
        assert store_alarms(session, records) == 2
        assert store_alarms(session, records[1:]) == 0  # the same event again is the same alarm
        booking_id = booking.id
    with Session(engine) as session:
        ids = {a.code: a.id for a in session.exec(select(Alarm).where(Alarm.resource_id == resource["id"]))}
    return {"resource": resource, "booking": booking_id, "ids": ids, "sme": sme}


def test_a_critical_alarm_during_a_booking_is_tied_to_it_and_told(
    api: Api, engine: Engine, raised: dict[str, Any]
) -> None:
    listed = api.call("operator", "GET", f"{V1}/alarms?resource_id={raised['resource']['id']}").json()
    by_code = {a["code"]: a for a in listed["data"]}
    assert by_code["TEMP_HIGH"]["booking_id"] == raised["booking"]
    assert by_code["PH_DRIFT"]["booking_id"] is None
    assert {a["state"] for a in listed["data"]} == {"active"}
    with Session(engine) as session:
        told = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.event == "alarm.critical", OutboxMessage.channel == "email"
            )
        ).all()
    recipients = {m.recipient for m in told if m.payload.get("alarm_id") == raised["ids"]["TEMP_HIGH"]}
    operator = api.call("operator", "GET", f"{V1}/me").json()["email"]
    assert {operator, raised["sme"]["email"]} <= recipients


def test_acknowledge_then_clear_with_who_and_when(api: Api, raised: dict[str, Any]) -> None:
    alarm = raised["ids"]["TEMP_HIGH"]
    operator = api.call("operator", "GET", f"{V1}/me").json()["id"]
    assert api.call("auditor", "POST", f"{V1}/alarms/{alarm}/ack").status_code == 403
    assert api.call("sme", "POST", f"{V1}/alarms/{alarm}/ack").status_code == 403
    assert api.call("other_operator", "POST", f"{V1}/alarms/{alarm}/ack").status_code == 403
    acked = api.call("operator", "POST", f"{V1}/alarms/{alarm}/ack", {"note": "cooling water opened"})
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert (body["state"], body["acknowledged_by_id"], body["note"]) == (
        "acknowledged",
        operator,
        "cooling water opened",
    )
    again = api.call("operator", "POST", f"{V1}/alarms/{alarm}/ack")
    assert again.status_code == 409 and again.json()["detail"].startswith("state: ")
    only = api.call(
        "auditor", "GET", f"{V1}/alarms?state=acknowledged&resource_id={raised['resource']['id']}"
    )
    assert [a["id"] for a in only.json()["data"]] == [alarm]
    cleared = api.call("operator", "POST", f"{V1}/alarms/{alarm}/clear").json()
    assert cleared["state"] == "cleared" and cleared["cleared_by_id"] == operator and cleared["cleared_at"]
    assert api.call("operator", "POST", f"{V1}/alarms/{alarm}/clear").status_code == 409
    trail = api.call("auditor", "GET", f"{V1}/audit/events?subject=alarm:{alarm}").json()["data"]
    assert [e["action"] for e in trail][-2:] in (["alarm.ack", "alarm.clear"], ["alarm.clear", "alarm.ack"])


def test_a_false_alarm_is_cleared_without_acknowledging_it(api: Api, raised: dict[str, Any]) -> None:
    alarm = raised["ids"]["PH_DRIFT"]
    assert (
        api.call("admin", "POST", f"{V1}/alarms/{alarm}/clear", {"note": "sensor recalibrated"}).json()[
            "state"
        ]
        == "cleared"
    )
    assert api.call("sme", "GET", f"{V1}/alarms?state=active").status_code == 403
    assert api.call("operator", "GET", f"{V1}/alarms?state=ringing").status_code == 422
    assert api.call("operator", "POST", f"{V1}/alarms/999999/ack").status_code == 404
