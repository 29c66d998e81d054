"""The optimizer keeps every rule of the booking path.

Random platforms (opening hours, unattended runs, minimum notice, maximum length, qualifications,
maintenance, quotas, pilot lines made of instruments) and random flexible requests go through the API
(`POST /schedule/runs`); every placement it makes is then judged by the booking path's own function,
`check_fixed_slot`, as of the run's time, and no two placements share an instrument.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.db import make_engine
from backend.domain.bookings import HOLDS_SLOT
from backend.domain.intervals import Interval
from backend.models.booking import Booking
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.services.bookings.rules import check_fixed_slot
from backend.services.scheduling.problems import requester_of
from backend.services.scheduling.runs import BROKE_A_RULE
from backend.settings import Settings
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

V1 = "/api/v1"
HOURS = [
    None,  # open around the clock
    {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    {d: [["08:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    {d: [["20:00", "08:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},  # night shift
]


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(
        Settings(database_url=database_url, secret_key="test-secret-key-0123456789-abcdefghijkl")
    )
    yield made
    made.dispose()


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Relative times only: the test turns them into datetimes when it runs, never at collection."""
    instruments = [
        {
            "hours": draw(st.sampled_from(HOURS)),
            "unattended": draw(st.booleans()),
            "min_notice_minutes": draw(st.sampled_from([0, 60, 240])),
            "max_booking_hours": draw(st.sampled_from([2, 4, 8, 168])),
            "requires_qualification": draw(st.booleans()),
            "maintenance": draw(
                st.none() | st.tuples(st.integers(-6, 72), st.integers(1, 12))  # start, length (hours)
            ),
        }
        for _ in range(draw(st.integers(2, 4)))
    ]
    line = draw(st.booleans())
    n = len(instruments) + (1 if line else 0)
    requests = [
        {
            "by": draw(st.sampled_from(["sme", "sme", "other_sme", "admin"])),
            "minutes": draw(st.sampled_from([30, 60, 120, 240, 360, 600])),
            "window": (draw(st.integers(-2, 48)), draw(st.integers(4, 96))),  # start, length (hours)
            "candidates": draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True)),
        }
        for _ in range(draw(st.integers(2, 8)))
    ]
    return {
        "instruments": instruments,
        "line": line,
        "requests": requests,
        "quota": draw(st.sampled_from([None, None, 2, 6])),
        "qualified": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "held": [  # fixed bookings before the run: by, resource, start (hours), length (hours)
            (draw(st.sampled_from(["sme", "admin"])), draw(st.integers(0, n - 1)), s, draw(st.integers(1, 6)))
            for s in draw(st.lists(st.integers(1, 60), max_size=3))
        ],
    }


def _build(
    api: Api, scenario: dict[str, Any], now: datetime, note: Callable[[str], None] = print
) -> tuple[int, list[int]]:
    """A fresh platform with the scenario's resources and requests; (platform id, resource ids)."""
    owner = api.admin("GET", f"{V1}/platforms/{api.ids['platform']}")["owner_org_id"]
    code = f"prop-{uuid.uuid4().hex[:8]}"
    platform = api.admin(
        "POST",
        f"{V1}/platforms",
        {
            "code": code,
            "name": "性质测试平台",
            "city": "济南",
            "industry": "测试",
            "owner_org_id": owner,
            "default_quota_hours": scenario["quota"],
        },
    )
    ids = []
    for i, spec in enumerate(scenario["instruments"]):
        resource = api.admin(
            "POST",
            f"{V1}/resources",
            {
                "platform_id": platform["id"],
                "code": f"I{i}",
                "kind": "instrument",
                "name": f"仪器 {i}",
                "opening_hours": spec["hours"],
                "unattended": spec["unattended"],
                "min_notice_minutes": spec["min_notice_minutes"],
                "max_booking_hours": spec["max_booking_hours"],
                "requires_qualification": spec["requires_qualification"],
            },
        )
        ids.append(resource["id"])
        if spec["maintenance"] is not None:
            start = now + timedelta(hours=spec["maintenance"][0])
            api.admin(
                "POST",
                f"{V1}/resources/{resource['id']}/maintenance",
                {
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=spec["maintenance"][1])).isoformat(),
                },
            )
    if scenario["line"]:
        line = api.admin(
            "POST",
            f"{V1}/resources",
            {
                "platform_id": platform["id"],
                "code": "LINE",
                "kind": "line",
                "name": "中试线",
                "members": ["I0", "I1"],
                "min_notice_minutes": 60,
            },
        )
        ids.append(line["id"])
    users = {role: api.call(role, "GET", f"{V1}/me").json()["id"] for role in ("sme", "other_sme")}
    for rid, granted in zip(ids, scenario["qualified"], strict=True):
        if granted:
            for user in users.values():
                api.admin("POST", f"{V1}/qualifications", {"user_id": user, "resource_id": rid})
    for by, index, start_h, length_h in scenario["held"]:
        start = (now + timedelta(hours=start_h)).replace(minute=0, second=0, microsecond=0)
        body = {
            "resource_id": ids[index],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=length_h)).isoformat(),
            "purpose": "held before the run",
        }
        made = api.call(by, "POST", f"{V1}/bookings", body)  # refused ones (closed, quota, ...) do not exist
        note(f"held booking: {made.status_code}")
    for request in scenario["requests"]:
        window_start = now + timedelta(hours=request["window"][0])
        body = {
            "duration_minutes": request["minutes"],
            "window_start": window_start.isoformat(),
            "window_end": (window_start + timedelta(hours=request["window"][1])).isoformat(),
            "candidates": [ids[c] for c in request["candidates"]],
            "purpose": "property test",
        }
        made = api.call(request["by"], "POST", f"{V1}/bookings", body)  # 403: qualified for no candidate
        note(f"request: {made.status_code}")
    return platform["id"], ids


def _judge(engine: Engine, run: dict[str, Any]) -> None:
    """Every booking the run placed passes the booking path's rules as of the run, and none overlap."""
    now = datetime.fromisoformat(run["created_at"])
    placed = [p["booking_id"] for p in run["placed"]]
    with Session(engine) as session:
        for booking in session.exec(select(Booking).where(col(Booking.id).in_(placed))):
            assert booking.starts_at and booking.ends_at and booking.resource_id
            resource = session.get(Resource, booking.resource_id)
            platform = session.get(Platform, booking.platform_id)
            assert resource is not None and platform is not None
            slot = Interval(booking.starts_at, booking.ends_at)
            check_fixed_slot(session, requester_of(booking), resource, platform, slot, now, booking.id)
        held = session.exec(
            select(Booking.resource_id, Booking.starts_at, Booking.ends_at).where(
                Booking.platform_id == run["platform_id"],
                col(Booking.status).in_([s.value for s in HOLDS_SLOT]),
                col(Booking.starts_at).is_not(None),
            )
        ).all()
    by_resource: dict[int, list[tuple[datetime, datetime]]] = {}
    for rid, start, end in held:
        by_resource.setdefault(rid or 0, []).append((start, end))
    for rid, slots in by_resource.items():
        for (s1, e1), (s2, e2) in itertools.pairwise(sorted(slots)):
            assert e1 <= s2, f"resource {rid}: {s1}-{e1} overlaps {s2}-{e2}"


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenario=scenarios())
def test_every_placement_of_the_optimizer_passes_the_booking_rules(
    api: Api, engine: Engine, scenario: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    platform_id, _ = _build(api, scenario, now, event)
    response = api.call(
        "admin",
        "POST",
        f"{V1}/schedule/runs",
        {
            "platform_id": platform_id,
            "horizon_start": (now - timedelta(hours=1)).isoformat(),
            "horizon_end": (now + timedelta(days=4)).isoformat(),
            "time_limit": 2,
        },
    )
    assert response.status_code == 201, response.text
    run = response.json()
    event(f"placed {min(len(run['placed']), 3)}+")
    problem = api.call("admin", "GET", f"{V1}/schedule/runs/{run['id']}/problem").json()
    broken = [u for u in run["unplaced"] if u["reason"].startswith(BROKE_A_RULE)]
    assert not broken, json.dumps({"run": run, "problem": problem}, indent=1)
    _judge(engine, run)


def test_a_resource_closing_at_20_gets_no_run_past_closing_nor_one_inside_the_notice(
    api: Api, engine: Engine
) -> None:
    """The case the issue found: runs placed 16:00-00:00 on a resource that closes at 20:00, and one at
    once despite a 60-minute notice."""
    now = datetime.now(UTC)
    scenario = {
        "instruments": [
            {
                "hours": HOURS[1],
                "unattended": False,
                "min_notice_minutes": 60,
                "max_booking_hours": 168,
                "requires_qualification": False,
                "maintenance": None,
            },
            {
                "hours": HOURS[1],
                "unattended": True,
                "min_notice_minutes": 60,
                "max_booking_hours": 168,
                "requires_qualification": False,
                "maintenance": None,
            },
        ],
        "line": False,
        "requests": [
            {"by": "sme", "minutes": 480, "window": (0, 72), "candidates": [0, 1]} for _ in range(4)
        ],
        "quota": None,
        "qualified": [False, False],
        "held": [],
    }
    platform_id, _ = _build(api, scenario, now)
    run = api.admin(
        "POST",
        f"{V1}/schedule/runs",
        {
            "platform_id": platform_id,
            "horizon_start": now.isoformat(),
            "horizon_end": (now + timedelta(days=3)).isoformat(),
            "time_limit": 3,
        },
    )
    assert len(run["placed"]) == 4, run
    for p in run["placed"]:
        start, end = datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])
        assert start >= now + timedelta(minutes=60)
        assert 8 <= start.hour < 20 and (end.hour, end.minute) <= (20, 0) and end.hour >= 8
    _judge(engine, run)
