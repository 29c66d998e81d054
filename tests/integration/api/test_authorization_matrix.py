"""The authorization policy, as data, checked call by call on SQLite and PostgreSQL.

`docs/access-policy.csv` says, for every operation of the OpenAPI document, whether each kind of caller
may act on an object its own tenant owns and on one another tenant owns. This test reads the operations
from the running app's OpenAPI document and calls every one as anonymous, the SME of organization A,
the SME of organization B, the operator of platform P, the operator of platform Q, the auditor and the
admin, on an object owned by (A, P) and on one owned by (B, Q), and compares each answer with the table.
An operation the table does not list, or that this test cannot call, fails it.

- A call on one object is *allowed* when it is not refused (401, 403, or 404 where the table refuses);
  a 5xx always fails. Reads run first, on the world as built; state-changing calls get a fresh object
  each, so every answer is about access, not about what an earlier call changed.
- A list is *allowed* for an owner when it answers and contains that owner's object, *refused* when it is
  refused or leaves the object out: that is how cross-tenant reads are caught.
"""

from __future__ import annotations

import csv
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from backend.models.booking import Booking
from backend.models.command import DeviceCommand
from backend.models.telemetry_checks import QuarantinedTelemetry
from backend.models.twin import Alarm
from backend.models.usage import UsageSession
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
POLICY = Path(__file__).parents[3] / "docs" / "access-policy.csv"
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OWNERS = ("A", "B")  # (SME organization A, platform P) and (B, Q)
CALLERS = ("anonymous", "sme", "other_sme", "operator", "other_operator", "auditor", "admin")
HOME = {"sme": "A", "other_sme": "B", "operator": "A", "other_operator": "B"}
SME_OF = {"A": "sme", "B": "other_sme"}
LAST_MONTH = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)


def column(caller: str, owner: str) -> str:
    """The policy column that judges `caller` acting on `owner`'s object."""
    if caller not in HOME:
        return caller
    kind = "sme" if "sme" in caller else "operator"
    return f"{kind}_{'own' if HOME[caller] == owner else 'other'}"


def load_policy() -> dict[tuple[str, str], dict[str, str]]:
    with POLICY.open() as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {(row["method"], row["path"]): row for row in rows}


@dataclass
class World:
    """Objects of both tenants, and factories of fresh ones for calls that change them."""

    api: Api
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, dict[str, int]] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    feed_tokens: dict[str, str] = field(default_factory=dict)
    login: dict[str, str] = field(default_factory=dict)
    slots: itertools.count[int] = field(default_factory=itertools.count)

    def call(self, caller: str, method: str, url: str, json: Any = None) -> Any:
        return self.api.client.request(method, url, json=json, headers=self.headers.get(caller, {}))

    def platform(self, owner: str) -> int:
        return self.ids["platform"][owner]

    def slot(self) -> tuple[str, str]:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=40)
        start += timedelta(hours=next(self.slots))
        return start.isoformat(), (start + timedelta(hours=1)).isoformat()

    def resource(self, owner: str) -> int:
        body = {
            "platform_id": self.platform(owner),
            "code": unique("AZ"),
            "kind": "instrument",
            "name": "权限测试设备",
            "opening_hours": ALWAYS,
            "requires_qualification": False,
            "min_notice_minutes": 0,
        }
        return int(self.api.admin("POST", f"{V1}/resources", body)["id"])

    def booking(self, owner: str, role: str | None = None) -> int:
        start, end = self.slot()
        body = {"resource_id": self.ids["resource"][owner], "start": start, "end": end, "purpose": "access"}
        response = self.call(role or SME_OF[owner], "POST", f"{V1}/bookings", body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def waitlist(self, owner: str) -> int:
        start, end = self.slot()
        taken = {"resource_id": self.ids["resource"][owner], "start": start, "end": end, "purpose": "taken"}
        self.api.admin("POST", f"{V1}/bookings", taken)
        wait = {**taken, "purpose": "wait", "waitlist": True}
        response = self.call(SME_OF[owner], "POST", f"{V1}/bookings", wait)
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    def maintenance(self, owner: str) -> int:
        start, end = self.slot()
        url = f"{V1}/resources/{self.ids['resource'][owner]}/maintenance"
        return int(self.api.admin("POST", url, {"start": start, "end": end})["id"])

    def rate(self, owner: str) -> int:
        day = (date(2031, 1, 1) + timedelta(days=next(self.slots))).isoformat()
        body = {"user_class": "internal", "unit": "hour", "price": "10", "valid_from": day, "valid_to": day}
        return int(self.api.admin("POST", f"{V1}/resources/{self.ids['resource'][owner]}/rates", body)["id"])

    def qualification(self, owner: str) -> int:
        body = {"user_id": self.ids["user"][owner], "resource_id": self.resource(owner)}
        return int(self.api.admin("POST", f"{V1}/qualifications", body)["id"])

    def alarm(self, owner: str) -> int:
        """An alarm as ingest stores it (no API makes one), active."""
        engine = self.api.client.app.state.engine  # type: ignore[attr-defined]
        with Session(engine) as session:
            alarm = Alarm(
                resource_id=self.ids["resource"][owner],
                ts=datetime.now(UTC) - timedelta(minutes=next(self.slots)),
                kind="alarm",
                code=unique("HI"),
                severity="warning",
            )
            session.add(alarm)
            session.commit()
            return int(alarm.id or 0)

    def quarantined(self, owner: str) -> int:
        """A message ingest quarantined (no API makes one): samples inside an invoiced month."""
        engine = self.api.client.app.state.engine  # type: ignore[attr-defined]
        at = datetime.now(UTC) - timedelta(days=40, minutes=next(self.slots))
        with Session(engine) as session:
            row = QuarantinedTelemetry(
                resource_id=self.ids["resource"][owner],
                platform_id=self.platform(owner),
                agent="matrix-agent",
                reason="settled",
                first_at=at,
                last_at=at,
                samples=[[int(at.timestamp()) * 10**9, {"state": "running"}]],
            )
            session.add(row)
            session.commit()
            return int(row.id or 0)

    def repair(self, owner: str) -> int:
        start, end = self.slot()
        body = {"cause": "fault", "resource_id": self.ids["resource"][owner], "start": start, "end": end}
        return int(self.api.admin("POST", f"{V1}/schedule/repairs", {**body, "time_limit": 0.5})["id"])

    def alarm_rule(self, owner: str) -> int:
        url = f"{V1}/platforms/{self.platform(owner)}/alarm-rules"
        body = {"resource_id": self.ids["resource"][owner], "code": unique("R"), "signal": "temp_c"}
        return int(self.api.admin("POST", url, {**body, "comparison": ">", "limit": 90})["id"])

    def webhook(self, owner: str) -> int:
        url = f"{V1}/platforms/{self.platform(owner)}/webhooks"
        return int(self.api.admin("POST", url, {"url": "http://127.0.0.1:9/hook"})["id"])


@pytest.fixture(scope="module")
def world(api: Api) -> World:
    staff = ("operator", "other_operator", "auditor", "admin")
    w = World(api, headers={role: api.as_(role) for role in staff})
    w.ids["platform"] = {"A": api.ids["platform"], "B": api.ids["other_platform"]}
    w.codes = {"A": "jinan-bio", "B": "qingdao-mat"}
    w.ids["org"], w.ids["user"] = {}, {}
    for owner, caller in SME_OF.items():  # organizations of their own, unknown to the demo's platform
        org = api.admin(
            "POST", f"{V1}/organizations", {"code": unique("az"), "name": unique("企业"), "kind": "sme"}
        )
        email, password = f"{unique('sme')}@matrix.demo", "matrix-sme-pass-1"
        body = {
            "email": email,
            "password": password,
            "full_name": "M",
            "role": "sme",
            "organization_id": org["id"],
        }
        w.ids["org"][owner], w.ids["user"][owner] = org["id"], api.admin("POST", f"{V1}/users", body)["id"]
        token = api.client.post(f"{V1}/auth/token", data={"username": email, "password": password}).json()
        w.headers[caller] = {"Authorization": f"Bearer {token['access_token']}"}
    me = {role: w.call(role, "GET", f"{V1}/me").json() for role in w.headers}
    w.ids["resource"] = {owner: w.resource(owner) for owner in OWNERS}
    w.ids["booking"] = {owner: w.booking(owner) for owner in OWNERS}
    w.ids["waitlist"] = {owner: w.waitlist(owner) for owner in OWNERS}
    w.ids["maintenance"] = {owner: w.maintenance(owner) for owner in OWNERS}
    w.ids["rate"] = {owner: w.rate(owner) for owner in OWNERS}
    w.ids["qualification"] = {owner: w.qualification(owner) for owner in OWNERS}
    w.ids["webhook"] = {owner: w.webhook(owner) for owner in OWNERS}
    w.ids["alarm_rule"] = {owner: w.alarm_rule(owner) for owner in OWNERS}
    w.ids["repair"] = {owner: w.repair(owner) for owner in OWNERS}
    w.ids["quarantined"] = {owner: w.quarantined(owner) for owner in OWNERS}
    for owner in OWNERS:
        quota = {"organization_id": w.ids["org"][owner], "hours_per_month": 100}
        api.admin("PUT", f"{V1}/platforms/{w.platform(owner)}/quotas", quota)
    w.ids["quota"] = {
        owner: next(
            q["id"]
            for q in api.admin("GET", f"{V1}/platforms/{w.platform(owner)}/quotas")
            if q["organization_id"] == w.ids["org"][owner]
        )
        for owner in OWNERS
    }
    horizon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    w.ids["run"] = {}
    for owner in OWNERS:
        run = {
            "platform_id": w.platform(owner),
            "horizon_start": horizon.isoformat(),
            "horizon_end": (horizon + timedelta(days=1)).isoformat(),
            "time_limit": 1,
            "apply": False,
        }
        w.ids["run"][owner] = api.admin("POST", f"{V1}/schedule/runs", run)["id"]
    _history(w)
    for owner in OWNERS:
        month = {"platform_id": w.platform(owner), "month": LAST_MONTH.strftime("%Y-%m")}
        invoices = api.admin("POST", f"{V1}/invoices/settle", month)["invoices"]
        w.ids.setdefault("invoice", {})[owner] = next(
            i["id"] for i in invoices if i["organization_id"] == w.ids["org"][owner]
        )
    w.ids["voucher"] = {}
    for owner in OWNERS:
        body = {
            "organization_id": w.ids["org"][owner],
            "number": unique("V"),
            "issuer": "Shandong province",
            "year": LAST_MONTH.year,
            "percent": "50",
            "annual_cap": "1000",
        }
        w.ids["voucher"][owner] = api.admin("POST", f"{V1}/vouchers", body)["id"]
    password = "matrix-login-1"
    login = api.admin(
        "POST",
        f"{V1}/users",
        {
            "email": f"{unique('login')}@matrix.demo",
            "password": password,
            "full_name": "L",
            "role": "auditor",
        },
    )
    w.login = {"username": login["email"], "password": password}
    for role in me:
        url = w.call(role, "GET", f"{V1}/me/calendar-url").json()["url"]
        w.feed_tokens[role] = url.split("token=", 1)[1]
    return w


def _history(w: World) -> None:
    """What the API cannot make now: completed bookings last month (invoices), usage and alarms."""
    engine = w.api.client.app.state.engine  # type: ignore[attr-defined]
    w.ids["usage"], w.ids["alarm"], w.ids["command"] = {}, {}, {}
    with Session(engine) as session:
        for owner in OWNERS:
            start = datetime.combine(LAST_MONTH, datetime.min.time(), UTC) + timedelta(days=3, hours=2)
            done = Booking(
                platform_id=w.platform(owner),
                resource_id=w.ids["resource"][owner],
                organization_id=w.ids["org"][owner],
                user_id=w.ids["user"][owner],
                status="completed",
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                purpose="last month",
                estimated_price=Decimal("100.00"),
            )
            session.add(done)
            session.flush()
            used = UsageSession(
                resource_id=w.ids["resource"][owner],
                platform_id=w.platform(owner),
                started_at=datetime.now(UTC) - timedelta(hours=3),
                ended_at=datetime.now(UTC) - timedelta(hours=2),
                last_seen_at=datetime.now(UTC) - timedelta(hours=2),
                states=["running"],
                booking_id=done.id,
                organization_id=w.ids["org"][owner],
            )
            alarm = Alarm(
                resource_id=w.ids["resource"][owner],
                ts=datetime.now(UTC) - timedelta(minutes=30),
                kind="alarm",
                code=unique("HI"),
                severity="warning",
            )
            command = DeviceCommand(
                id=uuid.uuid4().hex,
                resource_id=w.ids["resource"][owner],
                action="set",
                args={"temp_c": 30},
                user_id=w.ids["user"][owner],
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
            )
            session.add_all([used, alarm, command])
            session.flush()
            w.ids["usage"][owner], w.ids["alarm"][owner] = int(used.id or 0), int(alarm.id or 0)
            w.ids["command"][owner] = command.id  # type: ignore[assignment]  # the MQTT id, a string
        session.commit()


# --- how to call each operation -----------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """How to call one operation on `owner`'s object: path parameters, query, JSON body or form.
    `fresh`: the kind of object to make anew for each call (state-changing calls). `lists`: the kind of
    object a list answer should (allowed) or must not (refused) contain."""

    call: Callable[[World, str, int | None], dict[str, Any]]
    fresh: str | None = None
    lists: str | None = None
    key: str = "id"


def _path(**names: str) -> Callable[[World, str, int | None], dict[str, Any]]:
    """Path parameters naming `owner`'s object of each kind (or the fresh one for the first)."""

    def make(w: World, owner: str, fresh: int | None) -> dict[str, Any]:
        params = {}
        for i, (param, kind) in enumerate(names.items()):
            params[param] = fresh if (i == len(names) - 1 and fresh is not None) else w.ids[kind][owner]
        return {"path": params}

    return make


def _with(
    base: Callable[..., dict[str, Any]], **extra: Any
) -> Callable[[World, str, int | None], dict[str, Any]]:
    def make(w: World, owner: str, fresh: int | None) -> dict[str, Any]:
        made = base(w, owner, fresh)
        for key, value in extra.items():
            made[key] = value(w, owner) if callable(value) else value
        return made

    return make


def _none(w: World, owner: str, fresh: int | None) -> dict[str, Any]:
    return {}


def _query(**query: Callable[[World, str], Any] | Any) -> Callable[[World, str, int | None], dict[str, Any]]:
    return _with(
        _none, query=lambda w, owner: {k: v(w, owner) if callable(v) else v for k, v in query.items()}
    )


def _window(days: int) -> dict[str, str]:
    start = datetime.now(UTC).replace(microsecond=0)
    return {"from": start.isoformat(), "to": (start + timedelta(days=days)).isoformat()}


def _booking_body(w: World, owner: str) -> dict[str, Any]:
    start, end = w.slot()
    return {"resource_id": w.ids["resource"][owner], "start": start, "end": end, "purpose": "matrix"}


def _series_body(w: World, owner: str) -> dict[str, Any]:
    return {**_booking_body(w, owner), "recurrence": "FREQ=DAILY;COUNT=1"}


def _resource_body(w: World, owner: str) -> dict[str, Any]:
    return {"platform_id": w.platform(owner), "code": unique("AZN"), "kind": "instrument", "name": "新设备"}


def _org_body(w: World, owner: str) -> dict[str, Any]:
    return {"code": unique("org"), "name": unique("企业"), "kind": "sme"}


def _user_body(w: World, owner: str) -> dict[str, Any]:
    return {
        "email": f"{unique('new')}@matrix.demo",
        "password": "new-user-pass-1",
        "full_name": "New",
        "role": "sme",
        "organization_id": w.ids["org"][owner],
    }


def _platform_body(w: World, owner: str) -> dict[str, Any]:
    return {"code": unique("pf"), "name": "新平台", "city": "济南", "industry": "化工"}


def _run_body(w: World, owner: str) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=61)
    return {
        "platform_id": w.platform(owner),
        "horizon_start": start.isoformat(),
        "horizon_end": (start + timedelta(days=1)).isoformat(),
        "time_limit": 1,
        "apply": False,
    }


def _voucher_body(w: World, owner: str) -> dict[str, Any]:
    return {
        "organization_id": w.ids["org"][owner],
        "number": unique("V"),
        "issuer": "Jinan city",
        "year": 2026,
        "percent": "10",
        "annual_cap": "100",
    }


def _maintenance_body(w: World, owner: str) -> dict[str, Any]:
    start, end = w.slot()
    return {"start": start, "end": end}


def _rate_body(w: World, owner: str) -> dict[str, Any]:
    day = (date(2032, 1, 1) + timedelta(days=next(w.slots))).isoformat()
    return {"user_class": "internal", "unit": "hour", "price": "10", "valid_from": day, "valid_to": day}


def _feed(w: World, owner: str, caller: str) -> dict[str, Any]:
    return {"token": w.feed_tokens.get(caller, "not-a-token")}


OPS: dict[tuple[str, str], Op] = {
    ("POST", "/auth/token"): Op(_with(_none, form=lambda w, owner: w.login)),
    ("GET", "/me"): Op(_none),
    # a body that passes the door but changes nothing (a change would end the callers' tokens): 422
    ("POST", "/me/password"): Op(_with(_none, json={"current_password": "x", "new_password": "x" * 129})),
    ("GET", "/organizations"): Op(_query(limit=500), lists="org"),
    ("POST", "/organizations"): Op(_with(_none, json=_org_body)),
    ("GET", "/organizations/{org_id}"): Op(_path(org_id="org")),
    ("PATCH", "/organizations/{org_id}"): Op(_with(_path(org_id="org"), json={"name_en": "Renamed"})),
    ("DELETE", "/organizations/{org_id}"): Op(_path(org_id="org")),  # has members: 409 when allowed
    ("GET", "/users"): Op(_query(limit=500), lists="user"),
    ("POST", "/users"): Op(_with(_none, json=_user_body)),
    ("GET", "/users/{user_id}"): Op(_path(user_id="user")),
    ("PATCH", "/users/{user_id}"): Op(_with(_path(user_id="user"), json={"full_name": "Renamed"})),
    ("GET", "/platforms"): Op(_query(limit=500), lists="platform"),
    ("POST", "/platforms"): Op(_with(_none, json=_platform_body)),
    ("GET", "/platforms/{platform_id}"): Op(_path(platform_id="platform")),
    ("PATCH", "/platforms/{platform_id}"): Op(
        _with(_path(platform_id="platform"), json={"description": "x"})
    ),
    ("DELETE", "/platforms/{platform_id}"): Op(_path(platform_id="platform")),  # has resources: 409
    ("GET", "/platforms/{platform_id}/quotas"): Op(_path(platform_id="platform")),
    ("PUT", "/platforms/{platform_id}/quotas"): Op(
        _with(
            _path(platform_id="platform"),
            json=lambda w, owner: {"organization_id": w.ids["org"][owner], "hours_per_month": 120},
        )
    ),
    ("GET", "/resources"): Op(_query(limit=500), lists="resource"),
    ("POST", "/resources"): Op(_with(_none, json=_resource_body)),
    ("GET", "/resources/{resource_id}"): Op(_path(resource_id="resource")),
    ("PATCH", "/resources/{resource_id}"): Op(
        _with(_path(resource_id="resource"), json={"description": "x"})
    ),
    ("DELETE", "/resources/{resource_id}"): Op(_path(resource_id="resource"), fresh="resource"),
    ("GET", "/resources/{resource_id}/availability"): Op(
        _with(_path(resource_id="resource"), query=lambda w, owner: _window(7))
    ),
    ("GET", "/resources/{resource_id}/maintenance"): Op(_path(resource_id="resource")),
    ("POST", "/resources/{resource_id}/maintenance"): Op(
        _with(_path(resource_id="resource"), json=_maintenance_body)
    ),
    ("DELETE", "/resources/{resource_id}/maintenance/{window_id}"): Op(
        _path(resource_id="resource", window_id="maintenance"), fresh="maintenance"
    ),
    ("GET", "/resources/{resource_id}/rates"): Op(_path(resource_id="resource")),
    ("POST", "/resources/{resource_id}/rates"): Op(_with(_path(resource_id="resource"), json=_rate_body)),
    ("PATCH", "/resources/{resource_id}/rates/{rate_id}"): Op(
        _with(_path(resource_id="resource", rate_id="rate"), json={"note": "x"})
    ),
    ("DELETE", "/resources/{resource_id}/rates/{rate_id}"): Op(
        _path(resource_id="resource", rate_id="rate"), fresh="rate"
    ),
    ("GET", "/qualifications"): Op(_query(limit=500), lists="qualification"),
    ("POST", "/qualifications"): Op(
        _with(
            _none,
            json=lambda w, owner: {"user_id": w.ids["user"][owner], "resource_id": w.resource(owner)},
        )
    ),
    ("PATCH", "/qualifications/{qualification_id}"): Op(
        _with(_path(qualification_id="qualification"), json={"note": "x"})
    ),
    ("DELETE", "/qualifications/{qualification_id}"): Op(
        _path(qualification_id="qualification"), fresh="qualification"
    ),
    ("POST", "/bookings"): Op(_with(_none, json=_booking_body)),
    ("GET", "/bookings"): Op(_query(limit=500), lists="booking"),
    ("POST", "/bookings/series"): Op(_with(_none, json=_series_body)),
    ("GET", "/bookings/queue"): Op(_none, lists="booking"),
    ("GET", "/bookings/{booking_id}"): Op(_path(booking_id="booking")),
    ("GET", "/bookings/{booking_id}/events"): Op(_path(booking_id="booking")),
    **{
        ("POST", f"/bookings/{{booking_id}}/{action}"): Op(_path(booking_id="booking"), fresh="booking")
        for action in ("approve", "reject", "cancel", "check-in", "check-out")
    },
    ("POST", "/bookings/{booking_id}/key-project"): Op(
        _with(_path(booking_id="booking"), json={"key_project": True}), fresh="booking"
    ),
    ("GET", "/waitlist"): Op(_none, lists="waitlist"),
    ("DELETE", "/waitlist/{entry_id}"): Op(_path(entry_id="waitlist"), fresh="waitlist"),
    ("POST", "/schedule/runs"): Op(_with(_none, json=_run_body)),
    ("GET", "/schedule/runs"): Op(_query(limit=500), lists="run"),
    ("GET", "/schedule/runs/{run_id}"): Op(_path(run_id="run")),
    ("GET", "/schedule/runs/{run_id}/problem"): Op(_path(run_id="run")),
    ("POST", "/schedule/repairs"): Op(
        _with(
            _none,
            json=lambda w, owner: {
                "cause": "fault",
                "resource_id": w.ids["resource"][owner],
                **dict(zip(("start", "end"), w.slot(), strict=True)),
                "time_limit": 0.5,
            },
        )
    ),
    ("GET", "/schedule/repairs"): Op(_query(limit=500), lists="repair"),
    ("GET", "/schedule/repairs/{repair_id}"): Op(_path(repair_id="repair")),
    ("POST", "/schedule/repairs/{repair_id}/apply"): Op(_path(repair_id="repair"), fresh="repair"),
    ("POST", "/schedule/repairs/{repair_id}/dismiss"): Op(_path(repair_id="repair"), fresh="repair"),
    ("GET", "/reports/utilization"): Op(
        _query(
            **{
                "from": LAST_MONTH.isoformat(),
                "to": LAST_MONTH.isoformat(),
                "platform": lambda w, o: w.codes[o],
            }
        )
    ),
    ("GET", "/healthz"): Op(_none),
    ("GET", "/readyz"): Op(_none),
    ("GET", "/metrics"): Op(_none),
    ("POST", "/platforms/{platform_id}/webhooks"): Op(
        _with(_path(platform_id="platform"), json={"url": "http://127.0.0.1:9/new"})
    ),
    ("GET", "/platforms/{platform_id}/webhooks"): Op(_path(platform_id="platform")),
    ("DELETE", "/platforms/{platform_id}/webhooks/{webhook_id}"): Op(
        _path(platform_id="platform", webhook_id="webhook"), fresh="webhook"
    ),
    ("GET", "/calendars/resources/{resource_id}.ics"): Op(_path(resource_id="resource")),
    ("GET", "/calendars/me.ics"): Op(_none),  # the caller's own feed token: see `_request`
    ("GET", "/me/calendar-url"): Op(_none),
    ("GET", "/resources/{resource_id}/twin"): Op(_path(resource_id="resource")),
    ("PATCH", "/resources/{resource_id}/twin/desired"): Op(
        _with(_path(resource_id="resource"), json={"desired": {"temp_c": 30}})
    ),
    ("GET", "/resources/{resource_id}/commands"): Op(_path(resource_id="resource")),
    ("GET", "/commands/{command_id}"): Op(_path(command_id="command")),
    ("GET", "/resources/{resource_id}/telemetry"): Op(
        _with(_path(resource_id="resource"), query={"field": "temp_c"})
    ),
    ("GET", "/alarms"): Op(_query(limit=500), lists="alarm"),
    ("POST", "/alarms/{alarm_id}/ack"): Op(_path(alarm_id="alarm"), fresh="alarm"),
    ("POST", "/alarms/{alarm_id}/clear"): Op(_path(alarm_id="alarm"), fresh="alarm"),
    ("GET", "/quarantine"): Op(_query(limit=500), lists="quarantined"),
    ("POST", "/quarantine/{quarantined_id}/review"): Op(
        _with(_path(quarantined_id="quarantined"), json={"decision": "discard"}), fresh="quarantined"
    ),
    ("GET", "/platforms/{platform_id}/alarm-rules"): Op(_path(platform_id="platform"), lists="alarm_rule"),
    ("POST", "/platforms/{platform_id}/alarm-rules"): Op(
        _with(
            _path(platform_id="platform"),
            json=lambda w, owner: {
                "resource_id": w.ids["resource"][owner],
                "code": unique("R"),
                "signal": "temp_c",
                "comparison": "<",
                "limit": 5,
            },
        )
    ),
    ("GET", "/platforms/{platform_id}/alarm-rules/{rule_id}"): Op(
        _path(platform_id="platform", rule_id="alarm_rule")
    ),
    ("PATCH", "/platforms/{platform_id}/alarm-rules/{rule_id}"): Op(
        _with(_path(platform_id="platform", rule_id="alarm_rule"), json={"limit": 95})
    ),
    ("DELETE", "/platforms/{platform_id}/alarm-rules/{rule_id}"): Op(
        _path(platform_id="platform", rule_id="alarm_rule"), fresh="alarm_rule"
    ),
    ("GET", "/stream/twins"): Op(_query(poll_seconds=0.2, max_seconds=0.3)),
    ("GET", "/audit/events"): Op(_query(limit=500, subject="booking"), lists="booking", key="subject_id"),
    ("GET", "/audit/verify"): Op(_none),
    ("GET", "/usage-sessions"): Op(_query(limit=500), lists="usage"),
    ("GET", "/bookings/{booking_id}/usage"): Op(_path(booking_id="booking")),
    ("GET", "/reports/sharing"): Op(
        _query(
            **{
                "from": LAST_MONTH.isoformat(),
                "to": LAST_MONTH.isoformat(),
                "platform": lambda w, o: w.codes[o],
            }
        )
    ),
    ("GET", "/vouchers"): Op(_query(limit=500), lists="voucher"),
    ("POST", "/vouchers"): Op(_with(_none, json=_voucher_body)),
    ("GET", "/invoices"): Op(_query(limit=500), lists="invoice"),
    ("POST", "/invoices/settle"): Op(
        _with(
            _none,
            json=lambda w, owner: {"platform_id": w.platform(owner), "month": LAST_MONTH.strftime("%Y-%m")},
        )
    ),
    ("GET", "/invoices/{invoice_id}"): Op(_path(invoice_id="invoice")),
    ("POST", "/invoices/{invoice_id}/pay"): Op(_path(invoice_id="invoice")),
}


def _operation_key(path: str) -> str:
    return path.removeprefix(V1)


def _request(w: World, caller: str, method: str, path: str, op: Op, owner: str) -> tuple[Any, Any]:
    fresh = getattr(w, op.fresh)(owner) if op.fresh else None
    spec = op.call(w, owner, fresh)
    url = path.format(**spec.get("path", {}))
    query = {k.rstrip("_"): v for k, v in spec.get("query", {}).items() if v is not None}
    if path.endswith("/calendars/me.ics"):
        query = _feed(w, owner, caller)
    headers = w.headers.get(caller, {})
    if "form" in spec:
        return w.api.client.request(method, url, data=spec["form"], headers=headers), fresh
    return w.api.client.request(method, url, params=query, json=spec.get("json"), headers=headers), fresh


def _verdict(response: Any, op: Op, w: World, owner: str, expected: str) -> str:
    """'allow' or 'refuse', as the answer shows it."""
    code = response.status_code
    assert code < 500, (code, response.text)
    if code in (401, 403) or (code == 404 and expected == "refuse"):
        return "refuse"
    if op.lists is None:
        return "allow"
    assert code == 200, response.text
    body = response.json()
    rows = body["data"] if isinstance(body, dict) else body
    present = {str(row.get(op.key)) for row in rows}
    return "allow" if str(w.ids[op.lists][owner]) in present else "refuse"


@pytest.fixture(scope="module")
def operations(api: Api) -> list[tuple[str, str]]:
    document = api.client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in document["paths"].items() for method in ops]


def test_every_operation_is_in_the_policy_table(operations: list[tuple[str, str]]) -> None:
    policy = load_policy()
    keys = {(method, _operation_key(path)) for method, path in operations}
    assert sorted(keys - set(policy)) == [], "operations missing from docs/access-policy.csv"
    assert sorted(keys - set(OPS)) == [], "operations this test cannot call yet"
    assert sorted(set(policy) - keys) == [], "rows of docs/access-policy.csv for operations that do not exist"


def test_every_answer_agrees_with_the_policy_table(world: World, operations: list[tuple[str, str]]) -> None:
    policy = load_policy()
    disagreements = []
    # Reads first, on the world as built: a write may add a relation (a booking by B on P makes P serve B).
    for method, path in sorted(
        operations, key=lambda op: ["GET", "POST", "PUT", "PATCH", "DELETE"].index(op[0])
    ):
        key = (method, _operation_key(path))
        op, row = OPS[key], policy[key]
        for caller in CALLERS:
            for owner in OWNERS:
                expected = row[column(caller, owner)]
                response, _ = _request(world, caller, method, path, op, owner)
                got = _verdict(response, op, world, owner, expected)
                if got != expected:
                    disagreements.append(
                        f"{method} {key[1]} as {caller} on {owner}'s: table {expected}, got {got} "
                        f"({response.status_code} {response.text[:120]})"
                    )
    assert disagreements == [], "\n".join(disagreements)


def test_an_sme_reads_only_its_own_organizations_quota(world: World) -> None:
    """The quota list of a platform is open to its SMEs, row by row: an SME sees its own row only."""
    for caller, owner in (("sme", "A"), ("other_sme", "B")):
        for platform in world.ids["platform"].values():
            rows = world.call(caller, "GET", f"{V1}/platforms/{platform}/quotas").json()
            assert {row["organization_id"] for row in rows} <= {world.ids["org"][owner]}, (caller, rows)
    own = world.call("sme", "GET", f"{V1}/platforms/{world.platform('A')}/quotas").json()
    assert [row["id"] for row in own] == [world.ids["quota"]["A"]]
