"""GET /reports/utilization: per resource and day (or week, month), opening hours, booked hours and
measured use, checked on a week worked out by hand."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.db import make_engine, unit_of_work
from backend.models.booking import Booking, BookingKind
from backend.models.usage import UsageSession
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
ZONE = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(), ZONE) + timedelta(hours=hour)


@pytest.fixture(scope="module")
def week(api: Api, database_url: str) -> dict[str, Any]:
    """Last week's Monday to Sunday on a new resource with the platform's hours (Mon-Fri 08-20, Sat
    09-17, Sun closed): Monday booked 10-14 and used 10:30-13:30, Tuesday 10-12 in maintenance,
    Wednesday a request still waiting (not booked time)."""
    today = datetime.now(ZONE).date()
    monday = today - timedelta(days=today.weekday() + 7)
    resource = api.admin(
        "POST",
        f"{V1}/resources",
        {"platform_id": api.ids["platform"], "code": unique("UT"), "kind": "instrument", "name": "利用率"},
    )
    tuesday = monday + timedelta(days=1)
    api.admin(
        "POST",
        f"{V1}/resources/{resource['id']}/maintenance",
        {"start": at(tuesday, 10).isoformat(), "end": at(tuesday, 12).isoformat()},
    )
    sme = api.call("sme", "GET", f"{V1}/me").json()
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        for day, status in ((monday, "completed"), (monday + timedelta(days=2), "requested")):
            session.add(
                Booking(
                    platform_id=api.ids["platform"],
                    resource_id=resource["id"],
                    kind=BookingKind.fixed,
                    status=status,
                    organization_id=sme["organization_id"],
                    user_id=sme["id"],
                    starts_at=at(day, 10),
                    ends_at=at(day, 14),
                    requested_at=at(day, 10) - timedelta(days=3),
                    purpose="utilization",
                )
            )
        session.add(
            UsageSession(
                resource_id=resource["id"],
                platform_id=api.ids["platform"],
                started_at=at(monday, 10.5),
                ended_at=at(monday, 13.5),
                last_seen_at=at(monday, 13.5),
                states=["running"],
                organization_id=sme["organization_id"],
            )
        )
    engine.dispose()
    return {"resource": resource, "monday": monday}


def _ask(api: Api, role: str, **params: str) -> Any:
    return api.client.get(f"{V1}/reports/utilization", params=params, headers=api.as_(role))


def test_a_week_by_day(api: Api, week: dict[str, Any]) -> None:
    monday: date = week["monday"]
    sunday = monday + timedelta(days=6)
    answer = _ask(
        api, "operator", platform="jinan-bio", **{"from": monday.isoformat(), "to": sunday.isoformat()}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["every"] == "day" and len(body["periods"]) == 7
    assert body["periods"][0]["start"] == at(monday, 0).isoformat()
    [row] = [r for r in body["data"] if r["resource"] == week["resource"]["code"]]
    cells = row["periods"]
    mon, tue, wed, sat, sun = cells[0], cells[1], cells[2], cells[5], cells[6]
    assert (mon["open_hours"], mon["booked_hours"], mon["used_hours"]) == (12.0, 4.0, 3.0)
    assert (mon["booked_ratio"], mon["used_ratio"], mon["used_of_booked"]) == (0.3333, 0.25, 0.75)
    assert (tue["open_hours"], tue["booked_hours"], tue["used_of_booked"]) == (10.0, 0.0, None)
    assert wed["booked_hours"] == 0.0  # a request still waiting holds no booked time
    assert sat["open_hours"] == 8.0 and sun["open_hours"] == 0.0 and sun["used_ratio"] is None
    assert body["count"] == len(body["data"]) >= 12


def test_the_same_week_as_one_period(api: Api, week: dict[str, Any]) -> None:
    monday: date = week["monday"]
    params = {"from": monday.isoformat(), "to": (monday + timedelta(days=6)).isoformat(), "every": "week"}
    body = _ask(api, "auditor", platform="jinan-bio", **params).json()
    [row] = [r for r in body["data"] if r["resource"] == week["resource"]["code"]]
    [cell] = row["periods"]
    assert (cell["open_hours"], cell["booked_hours"], cell["used_hours"]) == (66.0, 4.0, 3.0)


@pytest.mark.parametrize(
    ("role", "params", "status", "detail"),
    [
        ("sme", {"platform": "jinan-bio"}, 403, ""),
        ("other_operator", {"platform": "jinan-bio"}, 403, ""),
        ("anonymous", {"platform": "jinan-bio"}, 401, ""),
        ("auditor", {"platform": "nowhere"}, 422, "platform: unknown platform code 'nowhere'"),
        ("auditor", {"platform": "jinan-bio", "to": "2027-01-01"}, 422, "to: 2027-01-01 is before from"),
        ("auditor", {"platform": "jinan-bio", "to": "2027-06-01"}, 422, "to: ask for at most 93 days by day"),
        ("auditor", {"platform": "jinan-bio", "every": "year"}, 422, "every: "),
    ],
)
def test_who_may_ask_and_what_is_refused(
    api: Api, role: str, params: dict[str, str], status: int, detail: str
) -> None:
    answer = _ask(api, role, **{"from": "2027-01-05", "to": "2027-01-11", **params})
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"].startswith(detail)
