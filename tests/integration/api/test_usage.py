"""Usage sessions and booked vs actual through the API, per role, on SQLite and PostgreSQL.

The sessions are made the way ingest makes them (`services.usage.record` with state samples), against
bookings written straight into the database: the booking API refuses slots in the past.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.db import make_engine, unit_of_work, writer
from backend.domain.usage import Observation
from backend.models.booking import Booking
from backend.services.telemetry import usage
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
DAY = datetime(2026, 5, 4, tzinfo=UTC)


def h(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def q(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def run(start: float, end: float) -> list[Observation]:
    """Running every 5 minutes from `start` to `end` (hours, whole minutes), then idle at `end`."""
    first, last = round(start * 60), round(end * 60)
    samples = [Observation(DAY + timedelta(minutes=m), "running") for m in range(first, last, 5)]
    return [*samples, Observation(DAY + timedelta(minutes=last), "idle")]


@pytest.fixture(scope="module")
def world(api: Api, database_url: str) -> Iterator[dict[str, Any]]:
    me = {role: api.call(role, "GET", f"{V1}/me").json() for role in ("sme", "other_sme", "operator")}
    mine = api.admin(
        "POST",
        f"{V1}/resources",
        {"platform_id": api.ids["platform"], "code": unique("US"), "kind": "instrument", "name": "用量测试"},
    )
    theirs = api.admin(
        "POST",
        f"{V1}/resources",
        {
            "platform_id": api.ids["other_platform"],
            "code": unique("US"),
            "kind": "instrument",
            "name": "他台",
        },
    )
    engine = make_engine(Settings(database_url=database_url))

    def booking(org: str, start: float, end: float, status: str) -> Booking:
        return Booking(
            platform_id=api.ids["platform"],
            resource_id=mine["id"],
            organization_id=me[org]["organization_id"],
            user_id=me[org]["id"],
            status=status,
            starts_at=h(start),
            ends_at=h(end),
            purpose="usage API test",
        )

    with unit_of_work(engine) as session:
        bookings = {
            "late_and_over": booking("sme", 10, 12, "completed"),
            "other_org": booking("other_sme", 13, 14, "completed"),
            "no_show": booking("sme", 15, 16, "no_show"),
        }
        session.add_all(bookings.values())
        session.flush()
        ids = {name: b.id for name, b in bookings.items()}
    with unit_of_work(writer(engine)) as session:
        usage.record(
            session,
            {
                mine["id"]: [*run(10 + 10 / 60, 12 + 20 / 60), *run(13, 13.5), *run(16.5, 17)],
                theirs["id"]: run(10, 11),
            },
        )
    engine.dispose()
    yield {"mine": mine["id"], "theirs": theirs["id"], "bookings": ids}


def sessions(api: Api, role: str, **params: Any) -> Any:
    query = {"from": q(h(0)), "to": q(h(24)), **params}
    return api.client.get(f"{V1}/usage-sessions", params=query, headers=api.as_(role))


def spans(body: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(s["resource_id"], s["start"][11:16], s["end"][11:16]) for s in body["data"]]


def test_each_role_sees_only_the_sessions_it_may(api: Api, world: dict[str, Any]) -> None:
    mine, theirs = world["mine"], world["theirs"]
    everything = [
        (theirs, "10:00", "11:00"),
        (mine, "10:10", "12:20"),
        (mine, "13:00", "13:30"),
        (mine, "16:30", "17:00"),
    ]
    assert sessions(api, "anonymous").status_code == 401
    for role in ("admin", "auditor"):
        body = sessions(api, role).json()
        assert spans(body) == everything and body["count"] == 4, role
    assert spans(sessions(api, "operator").json()) == [s for s in everything if s[0] == mine]
    assert spans(sessions(api, "other_operator").json()) == [(theirs, "10:00", "11:00")]
    sme = sessions(api, "sme").json()
    assert spans(sme) == [(mine, "10:10", "12:20")]
    assert sme["data"][0]["booking_id"] == world["bookings"]["late_and_over"]
    assert sme["data"][0]["organization_id"] == api.ids["sme_org"]
    assert spans(sessions(api, "other_sme").json()) == [(mine, "13:00", "13:30")]
    assert spans(sessions(api, "sme", booked="false").json()) == []  # unbooked use is not an SME's

    foreign_org = sessions(api, "sme", organization_id=api.ids["other_sme_org"])
    assert foreign_org.status_code == 403
    foreign_platform = sessions(api, "operator", platform_id=api.ids["other_platform"])
    assert foreign_platform.status_code == 403


def test_filters_clip_to_the_period_and_page(api: Api, world: dict[str, Any]) -> None:
    mine, theirs = world["mine"], world["theirs"]
    unbooked = sessions(api, "admin", booked="false").json()
    assert spans(unbooked) == [(theirs, "10:00", "11:00"), (mine, "16:30", "17:00")]
    assert all(s["booking_id"] is None and s["organization_id"] is None for s in unbooked["data"])
    booked = sessions(api, "auditor", booked="true", platform="jinan-bio").json()
    assert spans(booked) == [(mine, "10:10", "12:20"), (mine, "13:00", "13:30")]

    clipped = sessions(api, "admin", resource_id=mine, **{"from": q(h(11)), "to": q(h(13.25))}).json()
    assert spans(clipped) == [(mine, "11:00", "12:20"), (mine, "13:00", "13:15")]
    assert [s["minutes"] for s in clipped["data"]] == [80, 15]
    assert clipped["data"][0]["started_at"].startswith("2026-05-04T10:10")  # the stored session stays whole

    page = sessions(api, "admin", offset=1, limit=2).json()
    assert page["count"] == 4 and spans(page) == [(mine, "10:10", "12:20"), (mine, "13:00", "13:30")]
    assert sessions(api, "admin", organization_id=api.ids["other_sme_org"]).json()["count"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05-04T10:00:00"}, "from"),
        ({"from": q(h(12)), "to": q(h(11))}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"platform": "no-such-platform"}, "platform"),
        ({"limit": 0}, "limit"),
        ({"booked": "maybe"}, "booked"),
        ({"resource_id": "F5-1"}, "resource_id"),
    ],
)
def test_bad_query_input_is_422_naming_the_field(
    api: Api, world: dict[str, Any], params: dict[str, Any], field: str
) -> None:
    response = sessions(api, "admin", **params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{field}:"), response.json()


def test_booked_vs_actual(api: Api, world: dict[str, Any]) -> None:
    ids = world["bookings"]
    late = api.call("sme", "GET", f"{V1}/bookings/{ids['late_and_over']}/usage")
    assert late.status_code == 200, late.text
    figures = late.json()
    assert figures["booked_minutes"] == 120 and figures["used_minutes"] == 110
    assert figures["late_start_minutes"] == 10 and figures["early_start_minutes"] == 0
    assert figures["overrun_minutes"] == 20 and figures["utilization"] == round(110 / 120, 4)
    assert not figures["no_show"] and not figures["in_progress"]
    assert [(s["start"][11:16], s["end"][11:16]) for s in figures["sessions"]] == [("10:10", "12:20")]

    no_show = api.call("operator", "GET", f"{V1}/bookings/{ids['no_show']}/usage").json()
    assert no_show["no_show"] and no_show["used_minutes"] == 0 and no_show["late_start_minutes"] is None
    assert no_show["unbooked_adjacent_minutes"] == 30  # 16:30-17:00, within the hour after its end

    other = api.call("admin", "GET", f"{V1}/bookings/{ids['other_org']}/usage").json()
    assert other["used_minutes"] == 30 and other["late_start_minutes"] == 0 and other["overrun_minutes"] == 0


def test_booked_vs_actual_is_for_those_who_may_see_the_booking(api: Api, world: dict[str, Any]) -> None:
    url = f"{V1}/bookings/{world['bookings']['late_and_over']}/usage"
    expected = {"anonymous": 401, "admin": 200, "auditor": 200, "operator": 200}
    expected |= {"sme": 200, "other_operator": 403, "other_sme": 403}
    assert {role: api.call(role, "GET", url).status_code for role in expected} == expected
    assert api.call("admin", "GET", f"{V1}/bookings/999999/usage").status_code == 404


def test_a_pilot_line_booking_counts_the_use_of_all_its_instruments(api: Api, database_url: str) -> None:
    line, members = api.ids["resource:PL-1"], [api.ids["resource:F500-1"], api.ids["resource:SD-1"]]
    me = api.call("sme", "GET", f"{V1}/me").json()
    day = DAY + timedelta(days=3)
    engine = make_engine(Settings(database_url=database_url))
    try:
        with unit_of_work(engine) as session:
            common = {
                "platform_id": api.ids["platform"],
                "organization_id": me["organization_id"],
                "user_id": me["id"],
                "status": "completed",
                "starts_at": day + timedelta(hours=9),
                "ends_at": day + timedelta(hours=12),
                "purpose": "line run",
            }
            parent = Booking(resource_id=line, **common)
            session.add(parent)
            session.flush()
            children = [Booking(resource_id=m, parent_id=parent.id, **common) for m in members]
            session.add_all(children)
            session.flush()
            parent_id, child_id = parent.id, children[0].id
        fermenter = run(3 * 24 + 9, 3 * 24 + 11)  # 09:00-11:00
        dryer = run(3 * 24 + 10.5, 3 * 24 + 12.5)  # 10:30-12:30, past the booked end
        with unit_of_work(writer(engine)) as session:
            usage.record(session, {members[0]: fermenter, members[1]: dryer})
    finally:
        engine.dispose()
    figures = api.call("sme", "GET", f"{V1}/bookings/{parent_id}/usage").json()
    assert figures["used_minutes"] == 180 and figures["booked_minutes"] == 180
    assert figures["late_start_minutes"] == 0 and figures["overrun_minutes"] == 30
    assert sorted(s["resource_id"] for s in figures["sessions"]) == sorted(members)
    assert all(s["booking_id"] == parent_id for s in figures["sessions"])
    child = api.call("admin", "GET", f"{V1}/bookings/{child_id}/usage")
    assert child.status_code == 404  # the line's own booking answers for its instruments
