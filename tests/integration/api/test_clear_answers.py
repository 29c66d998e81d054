"""Answers that say what is wrong, in the platform's zone, and never drop what the caller asked for.

Each test is one fault a new user ran into (issue 10, "smaller faults").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from backend.adapters.influx import InfluxClient
from backend.db import make_engine, unit_of_work
from backend.models.booking import Booking, BookingKind
from backend.models.twin import Twin
from backend.settings import Settings
from tests.integration.api.conftest import Api
from tests.support.mosquitto import free_port

pytestmark = pytest.mark.integration

V1 = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(Settings(database_url=database_url))
    yield made
    made.dispose()


def _resource(api: Api, **fields: Any) -> dict[str, Any]:
    body = {
        "platform_id": api.ids["platform"],
        "code": f"T-{uuid.uuid4().hex[:6]}",
        "kind": "instrument",
        "name": "测试仪器",
        "requires_qualification": False,
        **fields,
    }
    return api.admin("POST", f"{V1}/resources", body)  # type: ignore[no-any-return]


def test_a_booking_reads_back_in_the_platform_zone_as_it_was_created(api: Api) -> None:
    resource = _resource(api)
    # Monday 2027-08-02, 10:00-12:00 in Jinan, written in UTC.
    body = {
        "resource_id": resource["id"],
        "start": "2027-08-02T02:00:00Z",
        "end": "2027-08-02T04:00:00Z",
        "purpose": "zone",
    }
    created = api.call("sme", "POST", f"{V1}/bookings", body)
    assert created.status_code == 201, created.text
    read = api.call("sme", "GET", f"{V1}/bookings/{created.json()['id']}").json()
    listed = api.call("sme", "GET", f"{V1}/bookings?resource_id={resource['id']}").json()["data"][0]
    for answer in (created.json(), read, listed):
        assert answer["start"] == "2027-08-02T10:00:00+08:00"
        assert answer["end"] == "2027-08-02T12:00:00+08:00"
        assert datetime.fromisoformat(answer["requested_at"]).utcoffset() == timedelta(hours=8)


def test_resource_updates_take_the_booking_rules_and_refuse_what_they_cannot_change(api: Api) -> None:
    resource = _resource(api)
    url = f"{V1}/resources/{resource['id']}"
    changed = api.call(
        "operator",
        "PATCH",
        url,
        {"min_notice_minutes": 240, "max_booking_hours": 6, "auto_approve": {"enabled": True}},
    )
    assert changed.status_code == 200, changed.text
    read = api.call("operator", "GET", url).json()
    assert (read["min_notice_minutes"], read["max_booking_hours"]) == (240, 6)
    assert read["auto_approve"] == {"enabled": True}
    seven_hours = {"resource_id": resource["id"], "start": "2027-08-03T09:00:00+08:00", "purpose": "long"}
    seven_hours["end"] = "2027-08-03T16:00:00+08:00"
    too_long = api.call("sme", "POST", f"{V1}/bookings", seven_hours)
    assert too_long.status_code == 422 and too_long.json()["detail"].startswith("end: ")
    for bad, field in (
        ({"bogus": 1}, "bogus"),
        ({"code": "RENAMED"}, "code"),
        ({"platform_id": api.ids["other_platform"]}, "platform_id"),
        ({"min_notice_minutes": None}, "min_notice_minutes"),
        ({"min_notice_minutes": -5}, "min_notice_minutes"),
    ):
        refused = api.call("operator", "PATCH", url, bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["detail"].startswith(f"{field}: "), refused.text
    unchanged = api.call("operator", "GET", url).json()
    assert unchanged["code"] == resource["code"] and unchanged["min_notice_minutes"] == 240


def test_a_slot_running_past_closing_blames_its_end(api: Api) -> None:
    resource = _resource(api)  # the platform's hours: Monday 08:00-20:00
    late = {
        "resource_id": resource["id"],
        "start": "2027-08-02T18:00:00+08:00",
        "end": "2027-08-02T22:00:00+08:00",
        "purpose": "late",
    }
    answer = api.call("sme", "POST", f"{V1}/bookings", late)
    assert answer.status_code == 422
    assert answer.json()["field"] == "end"
    assert "2027-08-02T20:00:00+08:00" in answer.json()["detail"]
    early = {
        "resource_id": resource["id"],
        "start": "2027-08-02T06:00:00+08:00",
        "end": "2027-08-02T09:00:00+08:00",
        "purpose": "early",
    }
    assert api.call("sme", "POST", f"{V1}/bookings", early).json()["field"] == "start"


def test_an_opening_hours_error_names_its_field_once(api: Api) -> None:
    resource = _resource(api)
    url = f"{V1}/resources/{resource['id']}"
    for hours, starts in (
        ({"someday": []}, "opening_hours: unknown weekday 'someday'"),
        ({"mon": [["8", "20:00"]]}, "opening_hours.mon[0]: '8' is not a time of day"),
        (["mon"], "opening_hours: "),
    ):
        answer = api.call("operator", "PATCH", url, {"opening_hours": hours})
        assert answer.status_code == 422
        detail = answer.json()["detail"]
        assert detail.startswith(starts) and detail.count("opening_hours") == 1, detail


def _twin(engine: Engine, resource_id: int, reported: dict[str, Any]) -> None:
    ns = time.time_ns()
    stamp = datetime.now(UTC).isoformat()
    with unit_of_work(engine) as session:
        session.add(
            Twin(
                resource_id=resource_id,
                reported={k: {"value": v, "ts": stamp, "ns": ns} for k, v in reported.items()},
                version=1,
            )
        )


def test_a_setpoint_the_device_does_not_declare_is_refused(api: Api, engine: Engine) -> None:
    resource = _resource(api, device_type="fermenter")
    _twin(
        engine,
        resource["id"],
        {
            "device_type": "fermenter",
            "signals": "temperature_c[°C],ph[pH]",
            "setpoints": "temperature_sp_c[°C],agitation_sp_rpm[rpm],ph_sp[pH]",
            "temperature_c": 36.8,
        },
    )
    url = f"{V1}/resources/{resource['id']}/twin/desired"
    wrong = api.call("operator", "PATCH", url, {"desired": {"temp_c": 37}})
    assert wrong.status_code == 422
    assert wrong.json()["detail"].startswith("desired.temp_c: ")
    assert "temperature_sp_c" in wrong.json()["detail"]
    right = api.call("operator", "PATCH", url, {"desired": {"temperature_sp_c": 37}})
    assert right.status_code == 200, right.text
    assert right.json()["desired"] == {"temperature_sp_c": 37}
    # A stale entry can always be removed.
    assert api.call("operator", "PATCH", url, {"desired": {"temp_c": None}}).status_code == 200


def test_telemetry_of_an_unknown_field_lists_the_fields_there_are(api: Api, engine: Engine) -> None:
    resource = _resource(api)
    _twin(engine, resource["id"], {"temperature_c": 36.8, "state": "running"})
    answer = api.call("operator", "GET", f"{V1}/resources/{resource['id']}/telemetry?field=temp_c")
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail.startswith("field: ") and "temperature_c" in detail and "state" in detail


def test_booked_hours_of_the_report_leave_out_what_is_still_to_come(api: Api, engine: Engine) -> None:
    resource = _resource(api)
    now = datetime.now(UTC)
    user = api.call("sme", "GET", f"{V1}/me").json()
    with unit_of_work(engine) as session:
        for start, hours in ((now - timedelta(hours=5), 2), (now + timedelta(hours=3), 4)):
            session.add(
                Booking(
                    platform_id=api.ids["platform"],
                    resource_id=resource["id"],
                    kind=BookingKind.fixed,
                    status="approved",
                    organization_id=user["organization_id"],
                    user_id=user["id"],
                    starts_at=start,
                    ends_at=start + timedelta(hours=hours),
                    requested_at=now - timedelta(days=1),
                    purpose="report",
                )
            )
    today = now.astimezone(SHANGHAI).date()
    period = f"from={(today - timedelta(days=2)).isoformat()}&to={(today + timedelta(days=2)).isoformat()}"
    report = api.call("auditor", "GET", f"{V1}/reports/sharing?{period}&platform=jinan-bio").json()
    [platform] = report["platforms"]
    [row] = [r for r in platform["resources"] if r["code"] == resource["code"]]
    assert row["booked_hours"] == 2.0
    assert datetime.fromisoformat(platform["as_of"]) <= datetime.now(UTC)


def test_telemetry_before_the_first_sample_is_an_empty_series(api: Api, engine: Engine) -> None:
    """The tests' store is fresh: ingest has not created its database yet. That is no data, not an outage."""
    resource = _resource(api)
    _twin(engine, resource["id"], {"temperature_c": 36.8})
    answer = api.call("operator", "GET", f"{V1}/resources/{resource['id']}/telemetry?field=temperature_c")
    assert answer.status_code == 200, answer.text
    assert answer.json()["points"] == []


def test_telemetry_from_a_store_that_is_down_answers_503_and_says_so(api: Api, engine: Engine) -> None:
    resource = _resource(api)
    _twin(engine, resource["id"], {"temperature_c": 36.8})
    app = api.client.app
    working = app.state.influx  # type: ignore[attr-defined]
    app.state.influx = InfluxClient(f"http://127.0.0.1:{free_port()}", "pilotshare", timeout=2)  # type: ignore[attr-defined]
    try:
        answer = api.call("operator", "GET", f"{V1}/resources/{resource['id']}/telemetry?field=temperature_c")
    finally:
        app.state.influx.close()  # type: ignore[attr-defined]
        app.state.influx = working  # type: ignore[attr-defined]
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("telemetry store is unreachable")
