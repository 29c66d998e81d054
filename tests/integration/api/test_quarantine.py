"""Reviewing quarantined telemetry (samples inside an invoiced month): who sees it, release into the
telemetry store, discard, once only, in the audit chain (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from backend.domain.telemetry_checks import QUARANTINED_SETTLED
from backend.models.telemetry_checks import QuarantinedTelemetry
from tests.integration.api.conftest import Api
from tests.support.influxdb import InfluxServer

pytestmark = pytest.mark.integration

V1 = "/api/v1"


def _quarantined(api: Api, resource: str = "F5-1") -> tuple[int, int]:
    """A message as ingest quarantines it; returns its id and its first sample's epoch ns."""
    ns = time.time_ns() - 40 * 86400 * 10**9
    samples = [[ns + i * 10**9, {"temperature_c": 30.0 + i, "state": "running"}] for i in range(3)]
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        row = QuarantinedTelemetry(
            resource_id=api.ids[f"resource:{resource}"],
            platform_id=api.ids["platform"],
            agent=f"agent-{uuid.uuid4().hex[:6]}",
            reason=QUARANTINED_SETTLED,
            first_at=datetime.fromtimestamp(ns / 1e9, UTC),
            last_at=datetime.fromtimestamp((ns + 2 * 10**9) / 1e9, UTC),
            samples=samples,
        )
        session.add(row)
        session.commit()
        return int(row.id or 0), ns


def _store(api: Api) -> str:
    """The module's own InfluxDB database."""
    return str(api.client.app.state.settings.influx_db)  # type: ignore[attr-defined]


def _around(ns: int) -> str:
    return f"time >= {ns} AND time < {ns + 3 * 10**9}"


def _listed(api: Api, role: str, **query: Any) -> list[int]:
    answer = api.client.get(f"{V1}/quarantine", params={"limit": 500, **query}, headers=api.as_(role))
    assert answer.status_code == 200, answer.text
    return [row["id"] for row in answer.json()["data"]]


def test_the_platform_staff_and_auditors_see_it_other_platforms_and_smes_do_not(api: Api) -> None:
    held, _ = _quarantined(api)
    assert held in _listed(api, "operator", reviewed="false")
    assert held in _listed(api, "auditor") and held in _listed(api, "admin")
    assert held not in _listed(api, "other_operator")
    assert api.call("sme", "GET", f"{V1}/quarantine").status_code == 403
    row = next(r for r in api.client.get(f"{V1}/quarantine", headers=api.as_("operator")).json()["data"])
    assert {"resource", "agent", "samples", "fields", "first_at", "decision"} <= set(row)


def test_release_writes_the_samples_into_the_telemetry_store_once(
    api: Api, influxdb_session: InfluxServer
) -> None:
    held, ns = _quarantined(api)
    url = f"{V1}/quarantine/{held}/review"
    answer = api.call("operator", "POST", url, {"decision": "release", "note": "late upload, genuine"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["decision"] == "release" and body["reviewed_at"] and body["review_note"]
    series = influxdb_session.query(
        f"SELECT temperature_c FROM telemetry WHERE resource = 'F5-1' AND {_around(ns)}",
        _store(api),
    )
    assert [row[1] for row in series[0]["values"]] == [30.0, 31.0, 32.0]
    assert held not in _listed(api, "operator", reviewed="false")
    assert held in _listed(api, "operator", reviewed="true")

    again = api.call("operator", "POST", url, {"decision": "discard"})
    assert again.status_code == 409 and "reviewed already" in again.json()["detail"]
    events = api.client.get(
        f"{V1}/audit/events",
        params={"subject": f"quarantined_telemetry:{held}"},
        headers=api.as_("auditor"),
    ).json()["data"]
    assert [e["action"] for e in events] == ["telemetry.quarantine_release"]


def test_discard_keeps_the_samples_out_of_the_store(api: Api, influxdb_session: InfluxServer) -> None:
    held, ns = _quarantined(api, "F5-2")
    answer = api.call("operator", "POST", f"{V1}/quarantine/{held}/review", {"decision": "discard"})
    assert answer.status_code == 200, answer.text
    try:
        series = influxdb_session.query(
            f"SELECT * FROM telemetry WHERE resource = 'F5-2' AND {_around(ns)}",
            _store(api),
        )
    except RuntimeError as exc:  # nothing was ever written to this store
        assert "database not found" in str(exc)
        series = []
    assert series == []


def test_who_may_decide_and_what_is_refused(api: Api) -> None:
    held, _ = _quarantined(api)
    url = f"{V1}/quarantine/{held}/review"
    assert api.call("other_operator", "POST", url, {"decision": "discard"}).status_code == 403
    assert api.call("auditor", "POST", url, {"decision": "discard"}).status_code == 403
    assert api.call("sme", "POST", url, {"decision": "discard"}).status_code == 403
    wrong = api.call("operator", "POST", url, {"decision": "approve"})
    assert wrong.status_code == 422 and "decision" in wrong.text
    assert (
        api.call(
            "operator", "POST", f"{V1}/quarantine/2147483647/review", {"decision": "discard"}
        ).status_code
        == 404
    )
    assert held in _listed(api, "operator", reviewed="false")  # nothing refused changed it


def test_the_list_shows_the_newest_first(api: Api) -> None:
    first, _ = _quarantined(api)
    second, _ = _quarantined(api)
    order = _listed(api, "operator")
    assert order.index(second) < order.index(first)
