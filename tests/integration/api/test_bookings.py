"""Bookings through the API, as SMEs, operators and auditors meet them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from backend.services.bookings.lifecycle import sweep_no_shows
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def soon(minutes: float) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def open_resource(api: Api, *, sme_qualified: bool = True, **extra: Any) -> dict[str, Any]:
    """A resource open around the clock with an hourly rate, the main SME user qualified for it."""
    body = {
        "platform_id": api.ids["platform"],
        "code": unique("BK"),
        "kind": "instrument",
        "name": "测试设备",
        "opening_hours": ALWAYS,
        **extra,
    }
    resource = api.admin("POST", f"{V1}/resources", body)
    api.admin(
        "POST",
        f"{V1}/resources/{resource['id']}/rates",
        {"user_class": "external_sme", "unit": "hour", "price": "100", "valid_from": "2020-01-01"},
    )
    if sme_qualified:
        api.admin(
            "POST", f"{V1}/qualifications", {"user_id": api.user_ids["sme"], "resource_id": resource["id"]}
        )
    return resource


def book(api: Api, role: str, resource_id: int, start: datetime, end: datetime, **extra: Any) -> Any:
    body = {"resource_id": resource_id, "start": iso(start), "end": iso(end), "purpose": "pilot run", **extra}
    return api.call(role, "POST", f"{V1}/bookings", body)


def act(api: Api, role: str, booking_id: int, action: str, reason: str | None = None) -> Any:
    body = {"reason": reason} if reason else None
    return api.call(role, "POST", f"{V1}/bookings/{booking_id}/{action}", body)


@pytest.fixture(scope="module", autouse=True)
def _user_ids(api: Api) -> None:
    api.user_ids = {
        role: api.call(role, "GET", f"{V1}/me").json()["id"]
        for role in ("admin", "operator", "sme", "other_sme", "auditor")
    }


def test_overlap_is_409_with_the_interval_and_adjacent_slots_are_fine(api: Api) -> None:
    r = open_resource(api)
    start = soon(3 * 24 * 60)
    first = book(api, "sme", r["id"], start, start + timedelta(hours=3))
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "requested" and first.json()["estimated_price"] == "300.00"
    clash = book(api, "sme", r["id"], start + timedelta(hours=2), start + timedelta(hours=4))
    assert clash.status_code == 409
    conflict = clash.json()["conflict"]
    assert conflict["resource"] == r["code"]
    assert datetime.fromisoformat(conflict["start"]) == start and datetime.fromisoformat(
        conflict["end"]
    ) == start + timedelta(hours=3)
    before = book(api, "sme", r["id"], start - timedelta(hours=1), start)
    after = book(api, "sme", r["id"], start + timedelta(hours=3), start + timedelta(hours=4))
    assert before.status_code == 201 and after.status_code == 201


def test_qualification_quota_hours_notice_length_and_maintenance_are_explained(api: Api) -> None:
    unqualified = open_resource(api, sme_qualified=False)
    start = soon(4 * 24 * 60)
    refused = book(api, "sme", unqualified["id"], start, start + timedelta(hours=1))
    assert refused.status_code == 403 and "not qualified" in refused.json()["detail"]

    r = open_resource(api, max_booking_hours=8, min_notice_minutes=120)
    assert (
        book(api, "sme", r["id"], soon(30), soon(90))
        .json()["detail"]
        .startswith("start: must be at least 120")
    )
    too_long = book(api, "sme", r["id"], start, start + timedelta(hours=9))
    assert too_long.status_code == 422 and too_long.json()["detail"].startswith(
        "end: a booking of this resource lasts"
    )
    api.admin(
        "POST",
        f"{V1}/resources/{r['id']}/maintenance",
        {"start": iso(start + timedelta(hours=10)), "end": iso(start + timedelta(hours=12))},
    )
    in_maintenance = book(api, "sme", r["id"], start + timedelta(hours=11), start + timedelta(hours=13))
    assert in_maintenance.status_code == 422 and "maintenance" in in_maintenance.json()["detail"]

    weekday_only = open_resource(api, opening_hours={"mon": [["08:00", "20:00"]]})
    sunday = datetime(2027, 1, 10, 10, tzinfo=UTC)  # a Sunday
    closed = book(api, "sme", weekday_only["id"], sunday, sunday + timedelta(hours=1))
    assert closed.status_code == 422 and "opening hours" in closed.json()["detail"]


def test_monthly_quota_counts_the_organizations_hours(api: Api) -> None:
    r = open_resource(api)
    api.admin(
        "PUT",
        f"{V1}/platforms/{api.ids['platform']}/quotas",
        {"organization_id": api.ids["sme_org"], "hours_per_month": 1000},
    )
    used_so_far = sum(
        (datetime.fromisoformat(b["end"]) - datetime.fromisoformat(b["start"])).total_seconds() / 3600
        for b in api.call(
            "admin",
            "GET",
            f"{V1}/bookings?organization_id={api.ids['sme_org']}&limit=500"
            "&from=2027-03-01T00:00:00%2B08:00&to=2027-04-01T00:00:00%2B08:00",
        ).json()["data"]
        if b["status"] in ("requested", "approved", "checked_in", "completed")
    )
    api.admin(
        "PUT",
        f"{V1}/platforms/{api.ids['platform']}/quotas",
        {"organization_id": api.ids["sme_org"], "hours_per_month": used_so_far + 4},
    )
    start = datetime(2027, 3, 15, 1, tzinfo=UTC)
    assert book(api, "sme", r["id"], start, start + timedelta(hours=3)).status_code == 201
    over = book(api, "sme", r["id"], start + timedelta(hours=5), start + timedelta(hours=7))
    assert over.status_code == 422
    assert "quota" in over.json()["detail"] and "1 h are left" in over.json()["detail"]
    api.admin(
        "PUT",
        f"{V1}/platforms/{api.ids['platform']}/quotas",
        {"organization_id": api.ids["sme_org"], "hours_per_month": None},
    )
    assert (
        book(api, "sme", r["id"], start + timedelta(hours=5), start + timedelta(hours=7)).status_code == 201
    )


def test_decisions_are_for_this_platforms_operators_and_are_recorded(api: Api) -> None:
    r = open_resource(api)
    start = soon(5 * 24 * 60)
    booking = book(api, "sme", r["id"], start, start + timedelta(hours=2)).json()
    for role in ("sme", "other_operator", "auditor", "other_sme"):
        assert act(api, role, booking["id"], "approve").status_code == 403, role
    assert act(api, "anonymous", booking["id"], "approve").status_code == 401
    approved = act(api, "operator", booking["id"], "approve").json()
    assert approved["status"] == "approved" and approved["decided_at"] is not None
    assert approved["response_minutes"] is not None and approved["response_minutes"] >= 0
    again = act(api, "operator", booking["id"], "approve")
    assert again.status_code == 409 and "approved booking cannot be approved" in again.json()["detail"]

    other = book(api, "sme", r["id"], start + timedelta(hours=3), start + timedelta(hours=4)).json()
    no_reason = act(api, "operator", other["id"], "reject")
    assert no_reason.status_code == 422 and no_reason.json()["detail"].startswith("reason")
    rejected = act(api, "operator", other["id"], "reject", "the reactor is reserved for a key project").json()
    assert rejected["status"] == "rejected" and rejected["decision_reason"].startswith("the reactor")
    assert act(api, "operator", other["id"], "approve").status_code == 409

    events = api.call("sme", "GET", f"{V1}/bookings/{other['id']}/events").json()
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("request", None, "requested"),
        ("reject", "requested", "rejected"),
    ]
    assert events[1]["actor_id"] == api.user_ids["operator"] and events[1]["reason"].startswith("the reactor")


def test_check_in_and_out_by_the_booking_organization_or_staff(api: Api) -> None:
    r = open_resource(api)
    start = soon(10)
    booking = book(api, "operator", r["id"], start, start + timedelta(hours=1)).json()
    assert booking["status"] == "approved"  # platform staff book without approval
    assert act(api, "sme", booking["id"], "check-in").status_code == 403  # not the SME's booking
    checked_in = act(api, "operator", booking["id"], "check-in").json()
    assert checked_in["status"] == "checked_in" and checked_in["checked_in_at"]
    overdue = api.call("operator", "GET", f"{V1}/bookings?overdue=true").json()["data"]
    assert booking["id"] not in {b["id"] for b in overdue}
    completed = act(api, "operator", booking["id"], "check-out").json()
    assert completed["status"] == "completed" and completed["checked_out_at"]

    later = book(api, "sme", r["id"], soon(3 * 24 * 60), soon(3 * 24 * 60 + 60)).json()
    act(api, "operator", later["id"], "approve")
    early = act(api, "sme", later["id"], "check-in")
    assert early.status_code == 409 and "check-in opens" in early.json()["detail"]


def test_cancellation_fee_window_and_operator_reasons(api: Api) -> None:
    r = open_resource(api, min_notice_minutes=0)
    early = book(api, "sme", r["id"], soon(3 * 24 * 60), soon(3 * 24 * 60 + 120)).json()
    cancelled = act(api, "sme", early["id"], "cancel").json()
    assert cancelled["status"] == "cancelled" and Decimal(cancelled["cancellation_fee"]) == 0

    late = book(api, "sme", r["id"], soon(120), soon(240)).json()  # inside the 24 h fee window
    assert late["estimated_price"] == "200.00"
    charged = act(api, "sme", late["id"], "cancel").json()
    assert Decimal(charged["cancellation_fee"]) == Decimal("100.00")  # 50 % by default

    third = book(api, "sme", r["id"], soon(300), soon(360)).json()
    assert act(api, "operator", third["id"], "cancel").json()["detail"].startswith("reason")
    by_platform = act(api, "operator", third["id"], "cancel", "boiler failure").json()
    assert by_platform["status"] == "cancelled" and Decimal(by_platform["cancellation_fee"]) == 0
    assert act(api, "other_sme", third["id"], "cancel").status_code == 403


def test_green_channel_goes_first_with_a_shorter_sla(api: Api) -> None:
    r = open_resource(api)
    start = soon(6 * 24 * 60)
    ordinary = book(api, "sme", r["id"], start, start + timedelta(hours=1)).json()
    key = book(api, "sme", r["id"], start + timedelta(hours=2), start + timedelta(hours=3)).json()
    assert (
        api.call("sme", "POST", f"{V1}/bookings/{key['id']}/key-project", {"key_project": True}).status_code
        == 403
    )
    flagged = api.call(
        "operator",
        "POST",
        f"{V1}/bookings/{key['id']}/key-project",
        {"key_project": True, "reason": "provincial key R&D project"},
    ).json()
    requested_at = datetime.fromisoformat(flagged["requested_at"])
    assert flagged["key_project"] and datetime.fromisoformat(
        flagged["sla_due_at"]
    ) == requested_at + timedelta(hours=4)
    assert flagged["user_class"] == "key_project"
    assert datetime.fromisoformat(ordinary["sla_due_at"]) == datetime.fromisoformat(
        ordinary["requested_at"]
    ) + timedelta(hours=24)
    queue = [b["id"] for b in api.call("operator", "GET", f"{V1}/bookings/queue").json()["data"]]
    assert queue.index(key["id"]) < queue.index(ordinary["id"])
    assert all(
        b["key_project"] for b in api.call("operator", "GET", f"{V1}/bookings/queue").json()["data"][:1]
    )
    assert api.call("sme", "GET", f"{V1}/bookings/queue").status_code == 403


def test_waitlist_gets_the_slot_when_it_frees_up(api: Api) -> None:
    r = open_resource(api)
    api.admin("POST", f"{V1}/qualifications", {"user_id": api.user_ids["other_sme"], "resource_id": r["id"]})
    start = soon(7 * 24 * 60)
    first = book(api, "sme", r["id"], start, start + timedelta(hours=2)).json()
    waiting = book(api, "other_sme", r["id"], start, start + timedelta(hours=2), waitlist=True)
    assert waiting.status_code == 202 and waiting.json()["status"] == "waiting"
    act(api, "sme", first["id"], "cancel")
    entry = next(
        e for e in api.call("other_sme", "GET", f"{V1}/waitlist").json() if e["id"] == waiting.json()["id"]
    )
    assert entry["status"] == "booked" and entry["booking_id"]
    promoted = api.call("other_sme", "GET", f"{V1}/bookings/{entry['booking_id']}").json()
    assert promoted["source"] == "waitlist" and promoted["status"] == "requested"
    assert promoted["organization_id"] == api.ids["other_sme_org"]


def test_no_show_releases_the_slot(api: Api) -> None:
    r = open_resource(api, no_show_grace_minutes=15)
    start = soon(-30)
    booking = book(api, "operator", r["id"], start, start + timedelta(hours=2)).json()
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        marked = sweep_no_shows(session)
        session.commit()
    assert booking["id"] in marked
    assert api.call("operator", "GET", f"{V1}/bookings/{booking['id']}").json()["status"] == "no_show"
    assert book(api, "operator", r["id"], soon(5), soon(60)).status_code == 201


def test_recurring_series_books_what_it_can_and_lists_the_rest(api: Api) -> None:
    r = open_resource(
        api, opening_hours={d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    first = datetime.fromisoformat("2027-02-03T09:00:00+08:00")  # a Wednesday
    assert (
        book(api, "sme", r["id"], first + timedelta(days=1), first + timedelta(days=1, hours=1)).status_code
        == 201
    )
    series = api.call(
        "sme",
        "POST",
        f"{V1}/bookings/series",
        {
            "resource_id": r["id"],
            "start": iso(first),
            "end": iso(first + timedelta(hours=2)),
            "recurrence": "FREQ=DAILY;COUNT=5",
            "purpose": "stability samples",
        },
    ).json()
    created = [datetime.fromisoformat(b["start"]).date().isoformat() for b in series["created"]]
    assert created == ["2027-02-03", "2027-02-05"]
    reasons = {c["start"][:10]: c["reason"] for c in series["conflicts"]}
    assert "already booked" in reasons["2027-02-04"]
    assert "opening hours" in reasons["2027-02-06"] and "opening hours" in reasons["2027-02-07"]
    assert len({b["series_id"] for b in series["created"]}) == 1
    bad = api.call(
        "sme",
        "POST",
        f"{V1}/bookings/series",
        {
            "resource_id": r["id"],
            "start": iso(first),
            "end": iso(first + timedelta(hours=1)),
            "recurrence": "FREQ=SOMETIMES",
            "purpose": "x",
        },
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("recurrence")


def test_booking_a_line_books_its_instruments_together(api: Api) -> None:
    a = open_resource(api)
    b = open_resource(api)
    line = api.admin(
        "POST",
        f"{V1}/resources",
        {
            "platform_id": api.ids["platform"],
            "code": unique("LINE"),
            "kind": "line",
            "name": "中试线",
            "members": [a["code"], b["code"]],
            "opening_hours": ALWAYS,
        },
    )
    start = soon(8 * 24 * 60)
    booked = book(api, "operator", line["id"], start, start + timedelta(hours=4)).json()
    assert sorted(booked["members"]) == sorted([a["id"], b["id"]])
    member_clash = book(api, "operator", b["id"], start + timedelta(hours=1), start + timedelta(hours=2))
    assert member_clash.status_code == 409 and member_clash.json()["conflict"]["resource"] == b["code"]
    free = api.client.get(
        f"{V1}/resources/{a['id']}/availability?from={iso(start).replace('+', '%2B')}"
        f"&to={iso(start + timedelta(hours=6)).replace('+', '%2B')}"
    ).json()["free"]
    assert [datetime.fromisoformat(f["start"]) for f in free] == [start + timedelta(hours=4)]
    act(api, "operator", booked["id"], "cancel", "line re-planned")
    assert (
        book(api, "operator", b["id"], start + timedelta(hours=1), start + timedelta(hours=2)).status_code
        == 201
    )


def test_flexible_request_waits_for_the_optimizer(api: Api) -> None:
    body = {
        "duration_minutes": 240,
        "window_start": "2027-05-10T08:00:00+08:00",
        "window_end": "2027-05-14T20:00:00+08:00",
        "capability": "fermentation",
        "platform_id": api.ids["platform"],
        "purpose": "strain screening",
    }
    created = api.call("sme", "POST", f"{V1}/bookings", body)
    assert created.status_code == 201
    flexible = created.json()
    assert flexible["kind"] == "flexible" and flexible["status"] == "requested" and flexible["start"] is None
    assert set(flexible["candidates"]) == {
        "F5-1",
        "F50-1",
    }  # of the fermenters, those the SME is qualified for
    unqualified = {**body, "capability": None, "candidates": [api.ids["resource:F500-1"]]}
    refused = api.call("sme", "POST", f"{V1}/bookings", unqualified)
    assert refused.status_code == 403 and "not qualified" in refused.json()["detail"]
    approve = act(api, "operator", flexible["id"], "approve")
    assert approve.status_code == 409 and "schedule" in approve.json()["detail"]
    short = api.call("sme", "POST", f"{V1}/bookings", {**body, "window_end": "2027-05-10T09:00:00+08:00"})
    assert short.status_code == 422 and short.json()["detail"].startswith("duration_minutes")


def test_who_sees_which_bookings(api: Api) -> None:
    r = open_resource(api)
    start = soon(9 * 24 * 60)
    mine = book(api, "sme", r["id"], start, start + timedelta(hours=1)).json()
    assert api.call("other_sme", "GET", f"{V1}/bookings/{mine['id']}").status_code == 403
    assert mine["id"] not in {
        b["id"] for b in api.call("other_sme", "GET", f"{V1}/bookings?limit=500").json()["data"]
    }
    assert api.call("auditor", "GET", f"{V1}/bookings/{mine['id']}").status_code == 200
    assert api.call("other_operator", "GET", f"{V1}/bookings/{mine['id']}").status_code == 403
    assert (
        book(api, "auditor", r["id"], start + timedelta(hours=2), start + timedelta(hours=3)).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"resource_id": 1, "start": "2027-01-04T09:00:00+08:00", "purpose": "x"}, "end"),
        (
            {"resource_id": 1, "start": "2027-01-04T09:00:00", "end": "2027-01-04T10:00:00", "purpose": "x"},
            "start",
        ),
        (
            {
                "resource_id": 1,
                "start": "2027-01-04T10:00:00+08:00",
                "end": "2027-01-04T09:00:00+08:00",
                "purpose": "x",
            },
            "end",
        ),
        (
            {"resource_id": 1, "start": "2027-01-04T09:00:00+08:00", "end": "2027-01-04T10:00:00+08:00"},
            "purpose",
        ),
        (
            {
                "resource_id": 1,
                "start": "2027-01-04T09:00:00+08:00",
                "end": "2027-01-04T10:00:00+08:00",
                "purpose": "x",
                "hazardous": True,
            },
            "hazard_details",
        ),
        ({"purpose": "x", "window_start": "2027-01-04T09:00:00+08:00"}, "duration_minutes"),
    ],
)
def test_bad_booking_input_names_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.call("sme", "POST", f"{V1}/bookings", body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"].split(":")[0] or response.json()["detail"].startswith(field)


# Which roles may make each move: the SME that booked (its organization), this platform's operator, admins.
MOVES = {
    "approve": ({"operator", "admin"}, "requested"),
    "reject": ({"operator", "admin"}, "requested"),
    "cancel": ({"sme", "operator", "admin"}, "approved"),
    "check-in": ({"sme", "operator", "admin"}, "approved"),
    "check-out": ({"sme", "operator", "admin"}, "checked_in"),
}


@pytest.mark.parametrize("role", ["sme", "other_sme", "operator", "other_operator", "auditor", "admin"])
@pytest.mark.parametrize("move", list(MOVES))
def test_each_lifecycle_move_by_each_role(api: Api, move: str, role: str) -> None:
    allowed, needs = MOVES[move]
    r = open_resource(api, min_notice_minutes=0)
    start = soon(5) if move in ("check-in", "check-out") else soon(2 * 24 * 60)
    booking = book(api, "sme", r["id"], start, start + timedelta(hours=1)).json()
    if needs in ("approved", "checked_in"):
        assert act(api, "operator", booking["id"], "approve").status_code == 200
    if needs == "checked_in":
        assert act(api, "sme", booking["id"], "check-in").status_code == 200
    response = act(api, role, booking["id"], move, reason="operator's reason")
    if role in allowed:
        assert response.status_code == 200, response.text
        events = api.call("admin", "GET", f"{V1}/bookings/{booking['id']}/events").json()
        assert events[-1]["action"] == move and events[-1]["actor_id"] == api.user_ids[role]
    else:
        assert response.status_code == 403, f"{role} must not {move}: {response.status_code} {response.text}"
        assert api.call("admin", "GET", f"{V1}/bookings/{booking['id']}").json()["status"] == needs
