"""The sharing report through the API: figures from stored sessions and bookings, who may read it,
how bad input is answered, and the audit fingerprint."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.db import make_engine, unit_of_work
from backend.models.booking import Booking
from backend.models.platform import Platform
from backend.models.usage import UsageSession
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ZONE = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(ZONE).date()


def report(api: Api, role: str = "auditor", **query: Any) -> Any:
    params = {
        "from": (today() - timedelta(days=1)).isoformat(),
        "to": (today() + timedelta(days=1)).isoformat(),
    }
    return api.client.get(f"{V1}/reports/sharing", params={**params, **query}, headers=api.as_(role))


def platform_of(body: dict[str, Any], code: str = "jinan-bio") -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in body["platforms"] if p["platform"] == code)
    return found


def resource_row(platform: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in platform["resources"] if r["code"] == code)
    return found


@pytest.fixture(scope="module")
def measured(api: Api, database_url: str) -> dict[str, Any]:
    """A resource with a completed SME booking (1 h at 100/h), the owner's own use and unbooked use."""
    resource = api.admin(
        "POST",
        f"{V1}/resources",
        {
            "platform_id": api.ids["platform"],
            "code": unique("RP"),
            "kind": "instrument",
            "name": "报告测试",
            "opening_hours": ALWAYS,
            "requires_qualification": False,
            "min_notice_minutes": 0,
        },
    )
    api.admin(
        "POST",
        f"{V1}/resources/{resource['id']}/rates",
        {"user_class": "external_sme", "unit": "hour", "price": "100", "valid_from": "2020-01-01"},
    )
    start = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    slot = {
        "resource_id": resource["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "purpose": "report",
    }
    made = api.call("sme", "POST", f"{V1}/bookings", slot)
    assert made.status_code == 201, made.text
    booking = made.json()["id"]
    for role, action in (("operator", "approve"), ("sme", "check-in"), ("sme", "check-out")):
        answer = api.call(role, "POST", f"{V1}/bookings/{booking}/{action}")
        assert answer.status_code == 200, (action, answer.text)

    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        platform = session.get(Platform, api.ids["platform"])
        assert platform is not None
        owner = platform.owner_org_id
        base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)

        def used(offset_h: float, hours: float, org: int | None, short: bool = False) -> None:
            at = base + timedelta(hours=offset_h)
            session.add(
                UsageSession(
                    resource_id=resource["id"],
                    platform_id=api.ids["platform"],
                    started_at=at,
                    ended_at=at + timedelta(hours=hours),
                    last_seen_at=at + timedelta(hours=hours),
                    states=["running"],
                    short=short,
                    organization_id=org,
                )
            )

        used(0, 1.5, api.ids["sme_org"])  # external 1.5 h
        used(2, 0.5, owner)  # the owner's own use
        used(3, 1, None)  # use without a booking
        used(4.5, 0.01, api.ids["other_sme_org"], short=True)  # a flicker: not counted
        # The report counts booked time up to when it is made; the booking was run, so move its hour
        # into the past (the API books only ahead).
        row = session.get(Booking, booking)
        assert row is not None
        row.starts_at, row.ends_at = base + timedelta(hours=5), base + timedelta(hours=6)
    engine.dispose()
    return {"resource": resource, "booking": booking}


def test_figures_of_one_resource_come_from_its_sessions_and_bookings(
    api: Api, measured: dict[str, Any]
) -> None:
    answer = report(api, platform="jinan-bio")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    p = platform_of(body)
    row = resource_row(p, measured["resource"]["code"])
    assert (row["effective_hours"], row["external_hours"], row["sharing_rate"]) == (3.0, 1.5, 0.5)
    assert row["booked_hours"] == 1.0 and row["used_booked_hours"] == 0.0  # no session inside the booked hour
    assert p["income"]["by_user_class"]["external_sme"] == "100.00"
    assert p["bookings"]["completed"] >= 1 and p["smes_served"] >= 1
    assert p["response_hours"]["ordinary"]["decisions"] >= 1
    # platform totals are the sums over its resources
    assert p["effective_hours"] == pytest.approx(sum(r["effective_hours"] for r in p["resources"]), abs=0.011)


def test_the_report_carries_the_audit_fingerprint_and_is_reproducible(
    api: Api, measured: dict[str, Any]
) -> None:
    as_of = datetime.now(UTC).isoformat()  # booked time counts up to it: fixed, the report repeats
    first = report(api, platform="jinan-bio", as_of=as_of).json()
    verify = api.call("auditor", "GET", f"{V1}/audit/verify").json()
    assert first["audit"] == {
        "ok": True,
        "events": verify["events"],
        "head_seq": verify["head_seq"],
        "head_hash": verify["head_hash"],
        "first_bad": None,
    }
    second = report(api, platform="jinan-bio", as_of=as_of).json()
    assert platform_of(second)["inputs_sha256"] == platform_of(first)["inputs_sha256"]
    assert {**second, "generated_at": None} == {**first, "generated_at": None}
    # a new booking changes the inputs, and the log
    r = measured["resource"]
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    api.call(
        "operator",
        "POST",
        f"{V1}/bookings",
        {
            "resource_id": r["id"],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "purpose": "more",
        },
    )
    third = report(api, platform="jinan-bio", as_of=as_of).json()
    assert platform_of(third)["inputs_sha256"] != platform_of(first)["inputs_sha256"]
    assert third["audit"]["head_seq"] > first["audit"]["head_seq"]


def test_csv_and_html(api: Api, measured: dict[str, Any]) -> None:
    as_csv = report(api, platform="jinan-bio", format="csv")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    code = measured["resource"]["code"]
    figures = {(r["platform"], r["resource"], r["figure"]): r["value"] for r in rows}
    assert figures[("jinan-bio", code, "effective_hours")] == "3.0"
    assert figures[("jinan-bio", "", "income.by_user_class.external_sme")] == "100.00"
    assert figures[("", "", "audit.ok")] == "True"
    as_html = report(api, platform="jinan-bio", format="html")
    assert as_html.status_code == 200 and as_html.headers["content-type"].startswith("text/html")
    assert "共享率 sharing rate" in as_html.text and code in as_html.text and "intact" in as_html.text


def test_who_may_read_which_platform(api: Api, measured: dict[str, Any]) -> None:
    everything = report(api, "auditor").json()
    assert {p["platform"] for p in everything["platforms"]} >= {"jinan-bio", "qingdao-mat"}
    assert report(api, "admin").status_code == 200
    own = report(api, "operator").json()
    assert [p["platform"] for p in own["platforms"]] == ["jinan-bio"]
    assert report(api, "other_operator", platform="jinan-bio").status_code == 403
    assert report(api, "sme").status_code == 403
    assert report(api, "anonymous").status_code == 401


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"from": "2026-12-10", "to": "2026-12-01"}, "to"),
        ({"platform": "no-such-platform"}, "platform"),
        ({"from": "2026-13-01"}, "from"),
        ({"format": "pdf"}, "format"),
    ],
)
def test_bad_input_is_named(api: Api, query: dict[str, str], named: str) -> None:
    answer = report(api, **query)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"{named}:"), answer.json()
