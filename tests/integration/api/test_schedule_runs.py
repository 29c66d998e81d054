"""POST /schedule/runs: open flexible requests in, approved bookings out, unplaced ones explained."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from scheduler.problem import parse_problem
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

V1 = "/api/v1"
WINDOW = ("2027-08-02T08:00:00+08:00", "2027-08-06T20:00:00+08:00")  # Monday to Friday


def _flexible(api: Api, minutes: int, **extra: Any) -> dict[str, Any]:
    body = {
        "duration_minutes": minutes,
        "window_start": WINDOW[0],
        "window_end": WINDOW[1],
        "candidates": [api.ids["resource:HPLC-1"], api.ids["resource:HPLC-2"]],
        "purpose": "purity assay",
        **extra,
    }
    response = api.call("sme", "POST", f"{V1}/bookings", body)
    assert response.status_code == 201, response.text
    return response.json()


def _run(api: Api, role: str, apply: bool = True) -> Any:
    return api.call(
        role,
        "POST",
        f"{V1}/schedule/runs",
        {
            "platform_id": api.ids["platform"],
            "horizon_start": "2027-08-02T00:00:00+08:00",
            "horizon_end": "2027-08-09T00:00:00+08:00",
            "time_limit": 3,
            "apply": apply,
        },
    )


def test_optimizer_places_requests_as_approved_bookings_and_explains_the_rest(api: Api) -> None:
    me = api.call("sme", "GET", f"{V1}/me").json()["id"]
    for code in ("HPLC-2", "SD-1"):  # the SME is qualified for HPLC-1 by the demo seed
        grant = api.call(
            "admin",
            "POST",
            f"{V1}/qualifications",
            {"user_id": me, "resource_id": api.ids[f"resource:{code}"]},
        )
        assert grant.status_code in (201, 409), grant.text
    requests = [_flexible(api, 240) for _ in range(4)]
    # Longer than any opening period of an attended dryer: it cannot be placed.
    impossible = _flexible(api, 14 * 60, candidates=[api.ids["resource:SD-1"]])
    assert _run(api, "sme").status_code == 403
    assert _run(api, "other_operator").status_code == 403
    dry = _run(api, "operator", apply=False).json()
    assert not dry["applied"] and dry["placed"]
    still_open = api.call("sme", "GET", f"{V1}/bookings/{requests[0]['id']}").json()
    assert still_open["status"] == "requested" and still_open["start"] is None

    run = _run(api, "operator").json()
    placed = {p["booking_id"]: p for p in run["placed"]}
    assert {r["id"] for r in requests} <= set(placed)
    slots = []
    for r in requests:
        booking = api.call("sme", "GET", f"{V1}/bookings/{r['id']}").json()
        assert booking["status"] == "approved" and booking["source"] == "scheduler"
        start, end = datetime.fromisoformat(booking["start"]), datetime.fromisoformat(booking["end"])
        assert (end - start).total_seconds() == 240 * 60
        assert datetime.fromisoformat(WINDOW[0]) <= start and end <= datetime.fromisoformat(WINDOW[1])
        slots.append((booking["resource"], start, end))
    for i, (res_a, s_a, e_a) in enumerate(slots):
        for res_b, s_b, e_b in slots[i + 1 :]:
            assert res_a != res_b or e_a <= s_b or e_b <= s_a, "optimizer double-booked a resource"
    unplaced = {u["booking_id"]: u["reason"] for u in run["unplaced"]}
    assert impossible["id"] not in placed and "SD-1" in unplaced[impossible["id"]]
    assert api.call("sme", "GET", f"{V1}/bookings/{impossible['id']}").json()["status"] == "requested"

    history = api.call("operator", "GET", f"{V1}/schedule/runs").json()
    assert run["id"] in {r["id"] for r in history["data"]}
    problem = api.call("auditor", "GET", f"{V1}/schedule/runs/{run['id']}/problem").json()
    parsed = parse_problem(problem)
    assert {q.id for q in parsed.requests} >= {f"Q{r['id']}" for r in requests}
    assert api.call("sme", "GET", f"{V1}/schedule/runs/{run['id']}").status_code in (403, 404)


def test_bad_run_requests_name_the_field(api: Api) -> None:
    bad = api.call(
        "operator",
        "POST",
        f"{V1}/schedule/runs",
        {
            "platform_id": api.ids["platform"],
            "horizon_start": "2027-08-09T00:00:00+08:00",
            "horizon_end": "2027-08-02T00:00:00+08:00",
        },
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("horizon_end")
