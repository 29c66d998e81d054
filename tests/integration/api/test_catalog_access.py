"""Every role against every catalog endpoint: who is let through and who is refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.api.conftest import ROLES, Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
ADMIN = {"admin"}
PLATFORM_MANAGERS = {"admin", "operator"}  # the operator of jinan-bio, not the one of qingdao-mat
STAFF_AND_AUDIT = {"admin", "operator", "other_operator", "auditor"}


@dataclass(frozen=True)
class Case:
    name: str
    allowed: set[str]
    prepare: Callable[[Api], tuple[str, str, Any]]  # -> method, url, body

    def __str__(self) -> str:
        return self.name


def _resource_body(a: Api) -> dict[str, Any]:
    return {
        "platform_id": a.ids["platform"],
        "code": unique("R"),
        "kind": "instrument",
        "name": "测试仪器",
        "capabilities": ["testing"],
        "attributes": {"volume_l": 10},
    }


def _fresh_resource(a: Api) -> int:
    body = _resource_body(a)
    return int(a.admin("POST", f"{V1}/resources", body)["id"])


def _fresh_rate(a: Api) -> tuple[int, int]:
    rid = _fresh_resource(a)
    rate = a.admin(
        "POST",
        f"{V1}/resources/{rid}/rates",
        {"user_class": "external_sme", "unit": "hour", "price": "120.00", "valid_from": "2026-01-01"},
    )
    return rid, int(rate["id"])


def _fresh_user(a: Api, org: str = "sme_org") -> int:
    return int(
        a.admin(
            "POST",
            f"{V1}/users",
            {
                "email": f"{unique('u')}@example.com",
                "password": "password-123",
                "full_name": "Temp",
                "role": "sme",
                "organization_id": a.ids[org],
            },
        )["id"]
    )


def _fresh_qualification(a: Api) -> int:
    return int(
        a.admin(
            "POST", f"{V1}/qualifications", {"user_id": _fresh_user(a), "resource_id": _fresh_resource(a)}
        )["id"]
    )


CASES = [
    Case("list platforms", EVERYONE, lambda a: ("GET", f"{V1}/platforms", None)),
    Case("get platform", EVERYONE, lambda a: ("GET", f"{V1}/platforms/{a.ids['platform']}", None)),
    Case(
        "create platform",
        ADMIN,
        lambda a: (
            "POST",
            f"{V1}/platforms",
            {"code": unique("p"), "name": "新平台", "city": "烟台", "industry": "海洋"},
        ),
    ),
    Case(
        "update platform",
        PLATFORM_MANAGERS,
        lambda a: ("PATCH", f"{V1}/platforms/{a.ids['platform']}", {"description": unique("d")}),
    ),
    Case(
        "delete platform",
        ADMIN,
        lambda a: (
            "DELETE",
            "{V1}/platforms/{id}".format(
                V1=V1,
                id=a.admin(
                    "POST",
                    f"{V1}/platforms",
                    {"code": unique("p"), "name": "临时", "city": "潍坊", "industry": "x"},
                )["id"],
            ),
            None,
        ),
    ),
    Case("search resources", EVERYONE, lambda a: ("GET", f"{V1}/resources?capability=fermentation", None)),
    Case("get resource", EVERYONE, lambda a: ("GET", f"{V1}/resources/{a.ids['resource:F50-1']}", None)),
    Case("create resource", PLATFORM_MANAGERS, lambda a: ("POST", f"{V1}/resources", _resource_body(a))),
    Case(
        "update resource",
        PLATFORM_MANAGERS,
        lambda a: ("PATCH", f"{V1}/resources/{a.ids['resource:F5-2']}", {"description": unique("d")}),
    ),
    Case(
        "delete resource",
        PLATFORM_MANAGERS,
        lambda a: ("DELETE", f"{V1}/resources/{_fresh_resource(a)}", None),
    ),
    Case(
        "availability",
        EVERYONE,
        lambda a: (
            "GET",
            f"{V1}/resources/{a.ids['resource:F50-1']}/availability"
            "?from=2026-12-01T00:00:00%2B08:00&to=2026-12-02T00:00:00%2B08:00",
            None,
        ),
    ),
    Case(
        "list maintenance",
        EVERYONE,
        lambda a: ("GET", f"{V1}/resources/{a.ids['resource:F50-2']}/maintenance", None),
    ),
    Case(
        "add maintenance",
        PLATFORM_MANAGERS,
        lambda a: (
            "POST",
            f"{V1}/resources/{_fresh_resource(a)}/maintenance",
            {
                "start": "2027-01-05T08:00:00+08:00",
                "end": "2027-01-05T12:00:00+08:00",
                "reason": "calibration",
            },
        ),
    ),
    Case("list rates", EVERYONE, lambda a: ("GET", f"{V1}/resources/{a.ids['resource:F50-1']}/rates", None)),
    Case(
        "create rate",
        PLATFORM_MANAGERS,
        lambda a: (
            "POST",
            f"{V1}/resources/{_fresh_resource(a)}/rates",
            {"user_class": "internal", "unit": "day", "price": "800", "valid_from": "2026-01-01"},
        ),
    ),
    Case(
        "update rate",
        PLATFORM_MANAGERS,
        lambda a: ("PATCH", "{}/resources/{}/rates/{}".format(V1, *_fresh_rate(a)), {"price": "99.50"}),
    ),
    Case(
        "delete rate",
        PLATFORM_MANAGERS,
        lambda a: ("DELETE", "{}/resources/{}/rates/{}".format(V1, *_fresh_rate(a)), None),
    ),
    Case("list organizations", SIGNED_IN, lambda a: ("GET", f"{V1}/organizations", None)),
    Case(
        "create organization",
        ADMIN,
        lambda a: ("POST", f"{V1}/organizations", {"code": unique("org"), "name": "新公司", "kind": "sme"}),
    ),
    Case(
        "read another SME's organization",
        {"admin", "auditor", "operator", "other_sme"},  # it booked on jinan-bio, not on qingdao-mat
        lambda a: ("GET", f"{V1}/organizations/{a.ids['other_sme_org']}", None),
    ),
    Case(
        "update organization",
        ADMIN,
        lambda a: ("PATCH", f"{V1}/organizations/{a.ids['sme_org']}", {"actual_controller": "李明"}),
    ),
    Case("list users", SIGNED_IN, lambda a: ("GET", f"{V1}/users", None)),
    Case(
        "create user",
        ADMIN,
        lambda a: (
            "POST",
            f"{V1}/users",
            {
                "email": f"{unique('n')}@example.com",
                "password": "password-123",
                "full_name": "New",
                "role": "auditor",
            },
        ),
    ),
    Case(
        "read a user of another SME",
        {"admin", "auditor", "other_sme"},  # a new member: no platform serves them yet
        lambda a: ("GET", f"{V1}/users/{_fresh_user(a, 'other_sme_org')}", None),
    ),
    Case("update user", ADMIN, lambda a: ("PATCH", f"{V1}/users/{_fresh_user(a)}", {"full_name": "Renamed"})),
    Case(
        "grant qualification",
        PLATFORM_MANAGERS,
        lambda a: (
            "POST",
            f"{V1}/qualifications",
            {"user_id": _fresh_user(a), "resource_id": _fresh_resource(a)},
        ),
    ),
    Case("list qualifications", SIGNED_IN, lambda a: ("GET", f"{V1}/qualifications", None)),
    Case(
        "revoke qualification",
        PLATFORM_MANAGERS,
        lambda a: ("DELETE", f"{V1}/qualifications/{_fresh_qualification(a)}", None),
    ),
    Case("me", SIGNED_IN, lambda a: ("GET", f"{V1}/me", None)),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_role_matrix(api: Api, case: Case, role: str) -> None:
    method, url, body = case.prepare(api)
    response = api.call(role, method, url, body)
    if role in case.allowed:
        assert response.status_code < 300, f"{role} should be allowed to {case}: {response.text}"
    elif role == "anonymous":
        assert response.status_code == 401, f"anonymous must log in to {case}: {response.status_code}"
    else:
        assert response.status_code == 403, (
            f"{role} must be refused to {case}: {response.status_code} {response.text}"
        )
        assert response.json()["detail"]


def test_sme_sees_only_its_own_organization_and_members(api: Api) -> None:
    orgs = api.call("sme", "GET", f"{V1}/organizations").json()
    assert [o["id"] for o in orgs["data"]] == [api.ids["sme_org"]]
    users = api.call("sme", "GET", f"{V1}/users?limit=500").json()["data"]
    assert users and {u["organization_id"] for u in users} == {api.ids["sme_org"]}
    everyone = api.call("auditor", "GET", f"{V1}/users?limit=500").json()
    assert everyone["count"] > len(users)


def test_sme_sees_only_qualifications_of_its_members(api: Api) -> None:
    mine = api.call("sme", "GET", f"{V1}/qualifications?limit=500").json()["data"]
    member_ids = {u["id"] for u in api.call("sme", "GET", f"{V1}/users?limit=500").json()["data"]}
    assert mine and {q["user_id"] for q in mine} <= member_ids
    assert api.call("auditor", "GET", f"{V1}/qualifications?limit=500").json()["count"] > len(mine)


def test_operator_cannot_touch_another_platforms_resources(api: Api) -> None:
    body = {"platform_id": api.ids["other_platform"], "code": unique("Q"), "kind": "venue", "name": "场地"}
    assert api.call("operator", "POST", f"{V1}/resources", body).status_code == 403
    assert api.call("other_operator", "POST", f"{V1}/resources", body).status_code == 201


def test_disabled_user_is_locked_out_even_with_a_valid_token(api: Api) -> None:
    from tests.integration.api.conftest import login

    email = f"{unique('gone')}@example.com"
    user = api.admin(
        "POST",
        f"{V1}/users",
        {"email": email, "password": "password-123", "full_name": "Gone", "role": "auditor"},
    )
    headers = login(api.client, email, "password-123")
    assert api.client.get(f"{V1}/me", headers=headers).status_code == 200
    api.admin("PATCH", f"{V1}/users/{user['id']}", {"is_active": False})
    assert api.client.get(f"{V1}/me", headers=headers).status_code == 401
    bad = api.client.post(f"{V1}/auth/token", data={"username": email, "password": "password-123"})
    assert bad.status_code == 401


def test_wrong_password_and_forged_token_are_refused(api: Api) -> None:
    wrong = api.client.post(
        f"{V1}/auth/token", data={"username": "admin@pilotshare.demo", "password": "nope"}
    )
    assert wrong.status_code == 401
    forged = api.client.get(f"{V1}/me", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
