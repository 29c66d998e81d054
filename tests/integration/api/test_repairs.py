"""Repairs over stored bookings: a maintenance window over two bookings lists them and proposes their
moves; an urgent key project is fitted in by moving one booking; applied plans pass the booking path's
slot checker, the SMEs are told their new time, and a stale proposal changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.db import make_engine
from backend.domain.intervals import Interval
from backend.models.booking import Booking
from backend.models.outbox import OutboxMessage
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.services.bookings.rules import check_fixed_slot
from backend.services.scheduling.problems import requester_of
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
# Mondays far enough ahead that no minimum notice is near; the platform is open 08:00-20:00 on weekdays.
DAY = "2027-09-06"
URGENT_DAY = "2027-09-13"
FAULT_DAY = "2027-09-20"


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(Settings(database_url=database_url))
    yield made
    made.dispose()


def _resource(api: Api) -> dict[str, Any]:
    body = {
        "platform_id": api.ids["platform"],
        "code": unique("RP"),
        "kind": "instrument",
        "name": "修复测试",
        "requires_qualification": False,
    }
    return api.admin("POST", f"{V1}/resources", body)  # type: ignore[no-any-return]


def _book(api: Api, resource: dict[str, Any], day: str, start: str, end: str, role: str = "sme") -> int:
    body = {
        "resource_id": resource["id"],
        "start": f"{day}T{start}:00+08:00",
        "end": f"{day}T{end}:00+08:00",
        "purpose": "repair test",
    }
    made = api.call(role, "POST", f"{V1}/bookings", body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _booking(api: Api, booking_id: int) -> dict[str, Any]:
    return api.call("operator", "GET", f"{V1}/bookings/{booking_id}").json()  # type: ignore[no-any-return]


def _passes_the_slot_checker(engine: Engine, booking_ids: list[int], now: datetime) -> None:
    with Session(engine) as session:
        for booking in session.exec(select(Booking).where(col(Booking.id).in_(booking_ids))):
            assert booking.starts_at and booking.ends_at and booking.resource_id
            resource = session.get(Resource, booking.resource_id)
            platform = session.get(Platform, booking.platform_id)
            assert resource is not None and platform is not None
            slot = Interval(booking.starts_at, booking.ends_at)
            check_fixed_slot(session, requester_of(booking), resource, platform, slot, now, booking.id)


def _told(engine: Engine, booking_id: int, event: str) -> bool:
    with Session(engine) as session:
        found = session.exec(
            select(OutboxMessage).where(OutboxMessage.booking_id == booking_id, OutboxMessage.event == event)
        ).first()
    return found is not None


def test_a_maintenance_window_over_two_bookings_lists_them_and_its_repair_moves_them(
    api: Api, engine: Engine
) -> None:
    resource = _resource(api)
    first = _book(api, resource, DAY, "09:00", "11:00")
    second = _book(api, resource, DAY, "13:00", "15:00")
    later = _book(api, resource, DAY, "16:00", "18:00")
    for booking in (first, second, later):
        assert api.call("operator", "POST", f"{V1}/bookings/{booking}/approve").status_code == 200
    window = {"start": f"{DAY}T08:00:00+08:00", "end": f"{DAY}T15:30:00+08:00", "reason": "pump seals"}
    added = api.call("operator", "POST", f"{V1}/resources/{resource['id']}/maintenance", window)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["affected_bookings"] == [first, second]
    repair = body["repair"]
    assert repair["status"] == "proposed" and repair["cause"] == "maintenance"
    assert repair["affected"] == [first, second] and repair["needs_person"] == []
    moves = {m["booking_id"]: m for m in repair["moves"]}
    assert set(moves) == {first, second}, repair  # the 16:00 booking keeps its place: fewest moves
    for move in moves.values():
        assert "out of service (maintenance)" in move["reason"]
        assert move["to"]["resource"] == resource["code"]
        start, end = datetime.fromisoformat(move["to"]["start"]), datetime.fromisoformat(move["to"]["end"])
        assert start >= datetime.fromisoformat(window["end"]) and end - start == datetime.fromisoformat(
            move["from"]["end"]
        ) - datetime.fromisoformat(move["from"]["start"])
    # Nothing moved yet.
    assert _booking(api, first)["start"] == f"{DAY}T09:00:00+08:00"
    assert api.call("sme", "POST", f"{V1}/schedule/repairs/{repair['id']}/apply").status_code in (403, 404)

    applied = api.call("operator", "POST", f"{V1}/schedule/repairs/{repair['id']}/apply", {"reason": "ok"})
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    for booking_id, move in moves.items():
        now = _booking(api, booking_id)
        assert (now["start"], now["end"], now["status"]) == (
            move["to"]["start"],
            move["to"]["end"],
            "approved",
        )
        assert _told(engine, booking_id, "booking.moved")
        events = api.call("operator", "GET", f"{V1}/bookings/{booking_id}/events").json()
        assert events[-1]["action"] == "move" and "maintenance" in events[-1]["reason"]
    assert _booking(api, later)["start"] == f"{DAY}T16:00:00+08:00"
    _passes_the_slot_checker(
        engine, [first, second, later], datetime.fromisoformat(applied.json()["decided_at"])
    )
    again = api.call("operator", "POST", f"{V1}/schedule/repairs/{repair['id']}/apply")
    assert again.status_code == 409
    listed = api.call("auditor", "GET", f"{V1}/schedule/repairs?status=applied").json()
    assert repair["id"] in {r["id"] for r in listed["data"]}


def test_an_urgent_key_project_is_fitted_in_by_moving_one_booking(api: Api, engine: Engine) -> None:
    resource = _resource(api)
    morning = _book(api, resource, URGENT_DAY, "08:00", "12:00")
    midday = _book(api, resource, URGENT_DAY, "12:00", "16:00")
    urgent = api.call(
        "other_sme",
        "POST",
        f"{V1}/bookings",
        {
            "duration_minutes": 240,
            "window_start": f"{URGENT_DAY}T08:00:00+08:00",
            "window_end": f"{URGENT_DAY}T12:00:00+08:00",
            "candidates": [resource["id"]],
            "purpose": "key project batch",
        },
    )
    assert urgent.status_code == 201, urgent.text
    urgent_id = urgent.json()["id"]
    flagged = api.call("operator", "POST", f"{V1}/bookings/{urgent_id}/key-project", {"key_project": True})
    assert flagged.status_code == 200, flagged.text
    made = api.call(
        "operator", "POST", f"{V1}/schedule/repairs", {"cause": "urgent", "booking_id": urgent_id}
    )
    assert made.status_code == 201, made.text
    repair = made.json()
    moves = {m["booking_id"]: m for m in repair["moves"]}
    assert set(moves) == {urgent_id, morning}, repair
    assert (
        moves[urgent_id]["to"]["start"] == f"{URGENT_DAY}T08:00:00+08:00" and moves[urgent_id]["from"] is None
    )
    assert "urgent" in moves[morning]["reason"]
    applied = api.call("operator", "POST", f"{V1}/schedule/repairs/{repair['id']}/apply")
    assert applied.status_code == 200, applied.text
    placed = _booking(api, urgent_id)
    assert (placed["status"], placed["start"]) == ("approved", f"{URGENT_DAY}T08:00:00+08:00")
    assert _booking(api, morning)["start"] == moves[morning]["to"]["start"]
    assert _booking(api, midday)["start"] == f"{URGENT_DAY}T12:00:00+08:00"
    assert _told(engine, morning, "booking.moved") and _told(engine, urgent_id, "booking.approved")
    _passes_the_slot_checker(
        engine, [urgent_id, morning, midday], datetime.fromisoformat(applied.json()["decided_at"])
    )


def test_a_stale_proposal_changes_nothing_and_a_dismissed_one_stays_dismissed(api: Api) -> None:
    resource = _resource(api)
    hit = _book(api, resource, FAULT_DAY, "10:00", "12:00")
    other = _book(api, resource, FAULT_DAY, "13:00", "14:00")
    fault = {
        "cause": "fault",
        "resource_id": resource["id"],
        "start": f"{FAULT_DAY}T09:00:00+08:00",
        "end": f"{FAULT_DAY}T14:30:00+08:00",
    }
    repair = api.call("operator", "POST", f"{V1}/schedule/repairs", fault).json()
    assert {m["booking_id"] for m in repair["moves"]} == {hit, other}
    assert api.call("sme", "POST", f"{V1}/bookings/{other}/cancel").status_code == 200
    stale = api.call("operator", "POST", f"{V1}/schedule/repairs/{repair['id']}/apply")
    assert stale.status_code == 409 and "changed since" in stale.json()["detail"]
    assert _booking(api, hit)["start"] == f"{FAULT_DAY}T10:00:00+08:00"  # all or nothing

    second = api.call("operator", "POST", f"{V1}/schedule/repairs", fault).json()
    assert [m["booking_id"] for m in second["moves"]] == [hit]
    dismissed = api.call(
        "operator", "POST", f"{V1}/schedule/repairs/{second['id']}/dismiss", {"reason": "fixed"}
    )
    assert dismissed.json()["status"] == "dismissed"
    assert api.call("operator", "POST", f"{V1}/schedule/repairs/{second['id']}/apply").status_code == 409
    assert _booking(api, hit)["start"] == f"{FAULT_DAY}T10:00:00+08:00"


@pytest.mark.parametrize(
    ("role", "body", "status", "detail"),
    [
        ("sme", {"cause": "urgent", "booking_id": 1}, 403, ""),
        ("operator", {"cause": "fault", "start": "2027-01-01T08:00:00+08:00"}, 422, "resource_id: "),
        ("operator", {"cause": "urgent"}, 422, "booking_id: "),
        ("operator", {"cause": "flood", "booking_id": 1}, 422, "cause: "),
        ("operator", {"cause": "urgent", "booking_id": 1, "colour": "red"}, 422, "colour: "),
    ],
)
def test_who_may_ask_for_a_repair_and_what_is_refused(
    api: Api, role: str, body: dict[str, Any], status: int, detail: str
) -> None:
    answer = api.call(role, "POST", f"{V1}/schedule/repairs", body)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"].startswith(detail)
