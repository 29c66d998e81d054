"""The audit log through the API: what gets recorded, who may read it, and that it verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from backend.db import make_engine, unit_of_work
from backend.models.audit import AuditEvent
from backend.services import audit
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def soon(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def ids(api: Api) -> dict[str, int]:
    return {role: api.call(role, "GET", f"{V1}/me").json()["id"] for role in ("admin", "operator", "sme")}


def events(api: Api, role: str = "auditor", **query: Any) -> dict[str, Any]:
    response = api.client.get(f"{V1}/audit/events", params=query, headers=api.as_(role))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def resource(api: Api) -> dict[str, Any]:
    body = {
        "platform_id": api.ids["platform"],
        "code": unique("AU"),
        "kind": "instrument",
        "name": "审计测试",
        "opening_hours": ALWAYS,
        "requires_qualification": False,
    }
    created: dict[str, Any] = api.admin("POST", f"{V1}/resources", body)
    return created


def test_each_booking_transition_is_recorded_in_order_with_who_and_what(
    api: Api, ids: dict[str, int]
) -> None:
    r = resource(api)
    start = soon(5)
    made = api.call(
        "sme",
        "POST",
        f"{V1}/bookings",
        {
            "resource_id": r["id"],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "purpose": "audit",
        },
    )
    assert made.status_code == 201, made.text
    booking = made.json()["id"]
    assert api.call("operator", "POST", f"{V1}/bookings/{booking}/approve").status_code == 200
    assert api.call("sme", "POST", f"{V1}/bookings/{booking}/cancel").status_code == 200

    got = events(api, subject=f"booking:{booking}")
    assert got["count"] == 3
    assert [e["action"] for e in got["data"]] == ["booking.request", "booking.approve", "booking.cancel"]
    assert [e["actor"] for e in got["data"]] == [
        f"user:{ids['sme']}",
        f"user:{ids['operator']}",
        f"user:{ids['sme']}",
    ]
    assert [(e["payload"]["from"], e["payload"]["to"]) for e in got["data"]] == [
        (None, "requested"),
        ("requested", "approved"),
        ("approved", "cancelled"),
    ]
    assert all(e["platform_id"] == api.ids["platform"] for e in got["data"])
    seqs = [e["seq"] for e in got["data"]]
    assert seqs == sorted(seqs)
    # chained: each event's prev_hash is the hash of the event just before it in the whole log
    previous = events(api, limit=1, offset=seqs[1] - 2)["data"][0]
    assert previous["seq"] == seqs[1] - 1 and got["data"][1]["prev_hash"] == previous["hash"]


def test_a_refused_booking_leaves_no_event(api: Api) -> None:
    r = resource(api)
    start = soon(6)
    body = {
        "resource_id": r["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "purpose": "audit",
    }
    assert api.call("operator", "POST", f"{V1}/bookings", body).status_code == 201
    before = events(api)["count"]
    assert api.call("operator", "POST", f"{V1}/bookings", body).status_code == 409
    assert events(api)["count"] == before


def test_rate_and_qualification_changes_are_recorded(api: Api, ids: dict[str, int]) -> None:
    r = resource(api)
    rate = api.call(
        "operator",
        "POST",
        f"{V1}/resources/{r['id']}/rates",
        {"user_class": "external_sme", "unit": "hour", "price": "80.50", "valid_from": "2026-01-01"},
    ).json()
    api.call("operator", "PATCH", f"{V1}/resources/{r['id']}/rates/{rate['id']}", {"price": "90"})
    api.call("operator", "DELETE", f"{V1}/resources/{r['id']}/rates/{rate['id']}")
    rates = events(api, subject=f"rate:{rate['id']}")["data"]
    assert [e["action"] for e in rates] == ["rate.create", "rate.update", "rate.delete"]
    assert [e["payload"]["price"] for e in rates] == ["80.50", "90.00", "90.00"]
    assert {e["actor"] for e in rates} == {f"user:{ids['operator']}"}

    q = api.call("operator", "POST", f"{V1}/qualifications", {"user_id": ids["sme"], "resource_id": r["id"]})
    assert q.status_code == 201, q.text
    assert api.call("operator", "DELETE", f"{V1}/qualifications/{q.json()['id']}").status_code == 204
    quals = events(api, subject=f"qualification:{q.json()['id']}")["data"]
    assert [e["action"] for e in quals] == ["qualification.grant", "qualification.revoke"]
    assert quals[1]["payload"]["user_id"] == ids["sme"]


def test_filters_by_action_actor_and_time(api: Api, ids: dict[str, int]) -> None:
    resource(api)  # something recent
    approvals = events(api, action="booking.approve", limit=500)
    assert approvals["count"] >= 1 and {e["action"] for e in approvals["data"]} == {"booking.approve"}
    mine = events(api, actor=f"user:{ids['operator']}", limit=500)
    assert mine["count"] >= 1 and {e["actor"] for e in mine["data"]} == {f"user:{ids['operator']}"}
    everything = events(api)["count"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert events(api, **{"from": future})["count"] == 0
    assert events(api, to=future)["count"] == everything
    page = events(api, limit=2, offset=1)
    assert len(page["data"]) == 2 and page["count"] == everything
    bad = api.client.get(
        f"{V1}/audit/events",
        params={"from": future, "to": "2020-01-01T00:00:00+00:00"},
        headers=api.as_("auditor"),
    )
    assert bad.status_code == 422 and "to" in bad.json()["detail"]


def test_who_reads_what(api: Api) -> None:
    r = resource(api)
    start = soon(7)
    api.call(
        "operator",
        "POST",
        f"{V1}/bookings",
        {
            "resource_id": r["id"],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "purpose": "audit",
        },
    )
    theirs = api.call(
        "other_operator",
        "POST",
        f"{V1}/resources",
        {
            "platform_id": api.ids["other_platform"],
            "code": unique("QD"),
            "kind": "instrument",
            "name": "别家",
        },
    ).json()
    rate = {"user_class": "internal", "unit": "hour", "price": "10", "valid_from": "2026-01-01"}
    assert api.call("other_operator", "POST", f"{V1}/resources/{theirs['id']}/rates", rate).status_code == 201
    total = events(api, "auditor")["count"]
    assert events(api, "admin")["count"] == total
    own = events(api, "operator", limit=500)
    assert 0 < own["count"] < total
    assert {e["platform_id"] for e in own["data"]} == {api.ids["platform"]}
    assert events(api, "other_operator", platform_id=api.ids["platform"])["count"] == 0
    assert [e["action"] for e in events(api, "other_operator")["data"]] == ["rate.create"]
    for role in ("sme", "other_sme"):
        assert api.call(role, "GET", f"{V1}/audit/events").status_code == 403
        assert api.call(role, "GET", f"{V1}/audit/verify").status_code == 403
    assert api.call("anonymous", "GET", f"{V1}/audit/events").status_code == 401


def test_verify_reports_an_intact_chain_with_its_head(api: Api) -> None:
    body = api.call("auditor", "GET", f"{V1}/audit/verify").json()
    count = events(api)["count"]
    last = events(api, offset=count - 1)["data"][0]
    assert body == {
        "ok": True,
        "events": count,
        "head_seq": last["seq"],
        "head_hash": last["hash"],
        "first_bad": None,
    }


def test_events_of_a_rolled_back_unit_of_work_are_not_written(api: Api, database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url))
    try:
        with pytest.raises(RuntimeError), unit_of_work(engine) as session:
            audit.append(session, "test.rolled_back", ("test", 1), actor=None, platform_id=None)
            raise RuntimeError("the change failed")
        with unit_of_work(engine) as session:
            audit.append(session, "test.kept", ("test", 2), actor=None, platform_id=None, payload={"n": 1})
        with unit_of_work(engine) as session:
            actions = set(session.exec(select(AuditEvent.action)).all())
    finally:
        engine.dispose()
    assert "test.kept" in actions and "test.rolled_back" not in actions
    assert api.call("auditor", "GET", f"{V1}/audit/verify").json()["ok"] is True


def test_a_usage_session_is_recorded_when_it_closes(api: Api, database_url: str) -> None:
    from backend.domain.usage import Observation
    from backend.services.telemetry import usage

    r = resource(api)
    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
    engine = make_engine(Settings(database_url=database_url))
    try:
        with unit_of_work(engine) as session:  # still running: nothing to record yet
            usage.record(
                session,
                {r["id"]: [Observation(t0, "running"), Observation(t0 + timedelta(minutes=5), "running")]},
            )
        assert events(api, action="usage.close", platform_id=api.ids["platform"], limit=500)["count"] == 0
        with unit_of_work(engine) as session:
            usage.record(session, {r["id"]: [Observation(t0 + timedelta(minutes=30), "idle")]})
    finally:
        engine.dispose()
    closed = events(api, action="usage.close", limit=500)["data"]
    assert len(closed) == 1 and closed[0]["actor"] == "system"
    assert closed[0]["payload"]["resource_id"] == r["id"]
    assert closed[0]["payload"]["start"] == "2026-11-02T08:00:00.000000Z"
    assert closed[0]["payload"]["end"] == "2026-11-02T08:30:00.000000Z"
    assert api.call("auditor", "GET", f"{V1}/audit/verify").json()["ok"] is True
