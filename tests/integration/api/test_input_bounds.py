"""Every input is bounded at the edge: what an outside probe sent to get 500s or to poison a platform's
settings now answers 422 naming the field, on SQLite and PostgreSQL (issue 13's findings, one by one)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from backend.main import create_app
from backend.models.common import DB_INT_MAX
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TOO_BIG = 2**31  # one past PostgreSQL's integer


def refused(response: Any, field: str) -> dict[str, Any]:
    """A 422 in the documented shape (`detail`, `errors` of `{field, message}`) that names `field`."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    for error in body.get("errors", []):
        assert set(error) == {"field", "message"}
    fields = [e["field"] for e in body.get("errors", [])] or [body.get("field")]
    assert field in fields, body
    return body


def later(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def resource(api: Api) -> dict[str, Any]:
    return api.admin(
        "POST",
        f"{V1}/resources",
        {
            "platform_id": api.ids["platform"],
            "code": unique("BND"),
            "kind": "instrument",
            "name": "边界测试设备",
            "opening_hours": ALWAYS,
        },
    )


# --- integers beyond the database's range ------------------------------------------------------


def test_offsets_and_ids_beyond_the_database_integer_are_422(api: Api, resource: dict[str, Any]) -> None:
    refused(api.client.get(f"{V1}/platforms?offset=9223372036854775808"), "offset")
    refused(api.client.get(f"{V1}/platforms?offset={TOO_BIG}"), "offset")
    assert api.client.get(f"{V1}/platforms?offset={DB_INT_MAX}").status_code == 200
    refused(api.client.get(f"{V1}/resources/{TOO_BIG}"), "resource_id")
    assert api.client.get(f"{V1}/resources/{DB_INT_MAX}").status_code == 404
    week = f"from={later(1).isoformat()}&to={later(8).isoformat()}".replace("+", "%2B")
    refused(api.client.get(f"{V1}/resources/{TOO_BIG}/availability?{week}"), "resource_id")
    refused(api.client.get(f"{V1}/calendars/resources/{TOO_BIG}.ics"), "resource_id")
    refused(api.call("admin", "GET", f"{V1}/bookings?resource_id={TOO_BIG}"), "resource_id")
    refused(api.call("admin", "GET", f"{V1}/bookings/{TOO_BIG}"), "booking_id")
    start = later(2)
    body = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "purpose": "x"}
    refused(api.call("admin", "POST", f"{V1}/bookings", {**body, "resource_id": 2**64}), "resource_id")
    refused(api.call("admin", "POST", f"{V1}/bookings", {**body, "resource_id": 0}), "resource_id")


def test_a_token_naming_a_user_beyond_the_integer_range_is_401(api: Api) -> None:
    settings: Settings = api.client.app.state.settings  # type: ignore[attr-defined]
    claims = {"sub": str(2**64), "exp": int((datetime.now(UTC) + timedelta(hours=1)).timestamp())}
    token = jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)
    response = api.client.get(f"{V1}/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text


# --- times: a zone, a sane year, ISO text only -------------------------------------------------


@pytest.mark.parametrize("year", ["0001", "9999"])
def test_years_far_out_are_422_for_bookings_and_availability(
    api: Api, resource: dict[str, Any], year: str
) -> None:
    start, end = f"{year}-06-01T08:00:00+08:00", f"{year}-06-01T10:00:00+08:00"
    body = {"resource_id": resource["id"], "start": start, "end": end, "purpose": "x"}
    refused(api.call("admin", "POST", f"{V1}/bookings", body), "start")
    query = {"from": start, "to": end}
    refused(api.client.get(f"{V1}/resources/{resource['id']}/availability", params=query), "from")
    refused(api.client.get(f"{V1}/bookings", params={"from": start}, headers=api.as_("admin")), "from")


@pytest.mark.parametrize("start", [1_800_000_000, "1800000000", "2026-12-01T08:00:00"])
def test_a_booking_start_must_be_iso_text_with_a_zone(api: Api, resource: dict[str, Any], start: Any) -> None:
    body = {"resource_id": resource["id"], "start": start, "end": later(3).isoformat(), "purpose": "x"}
    body = refused(api.call("admin", "POST", f"{V1}/bookings", body), "start")
    assert "zone" in body["detail"]


def test_a_maintenance_window_of_ten_years_is_422(api: Api, resource: dict[str, Any]) -> None:
    start = later(1)
    window = {"start": start.isoformat(), "end": (start + timedelta(days=3650)).isoformat()}
    refused(api.call("admin", "POST", f"{V1}/resources/{resource['id']}/maintenance", window), "end")
    window["end"] = (start + timedelta(days=7)).isoformat()
    assert (
        api.call("admin", "POST", f"{V1}/resources/{resource['id']}/maintenance", window).status_code == 201
    )


def test_a_flexible_window_of_a_year_is_422(api: Api, resource: dict[str, Any]) -> None:
    start = later(1)
    body = {
        "duration_minutes": 120,
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(days=365)).isoformat(),
        "candidates": [resource["id"]],
        "purpose": "x",
    }
    refused(api.call("admin", "POST", f"{V1}/bookings", body), "window_end")


# --- numbers: finite, with bounds that mean something ------------------------------------------


POISONS = ["1e309", "-1e309", "NaN", "1e12"]


@pytest.mark.parametrize("value", POISONS)
def test_platform_settings_cannot_be_poisoned_and_bookings_go_on(
    api: Api, resource: dict[str, Any], value: str
) -> None:
    url = f"{V1}/platforms/{api.ids['platform']}"
    for name in ("sla_hours", "green_sla_hours", "cancellation_free_hours", "default_quota_hours"):
        raw = f'{{"{name}": {value}}}'
        response = api.client.patch(
            url, content=raw, headers={**api.as_("admin"), "content-type": "application/json"}
        )
        body = refused(response, name)
        if value == "NaN":
            assert "finite" in body["detail"], body  # not a misleading "greater than 0"
    start = later(10 + POISONS.index(value))  # clear of the maintenance window above
    booking = {
        "resource_id": resource["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "purpose": "still bookable",
    }
    made = api.call("operator", "POST", f"{V1}/bookings", booking)
    assert made.status_code == 201, made.text
    assert api.call("operator", "POST", f"{V1}/bookings/{made.json()['id']}/cancel").status_code == 200


def test_quotas_and_attributes_must_be_finite_and_bounded(api: Api, resource: dict[str, Any]) -> None:
    headers = {**api.as_("admin"), "content-type": "application/json"}
    quota = f'{{"organization_id": {api.ids["sme_org"]}, "hours_per_month": 1e309}}'
    refused(
        api.client.put(f"{V1}/platforms/{api.ids['platform']}/quotas", content=quota, headers=headers),
        "hours_per_month",
    )
    for number in ("1e309", "1e15", "NaN"):
        raw = f'{{"attributes": {{"volume_l": {number}}}}}'
        response = api.client.patch(f"{V1}/resources/{resource['id']}", content=raw, headers=headers)
        assert response.status_code == 422, response.text
        assert "attributes" in response.json()["detail"]
    ok = api.call("admin", "PATCH", f"{V1}/resources/{resource['id']}", {"attributes": {"volume_l": 50}})
    assert ok.status_code == 200 and ok.json()["attributes"]["volume_l"] == 50


# --- text: no NUL; search wildcards are literal ------------------------------------------------


def test_a_nul_character_anywhere_is_422_naming_the_field(api: Api, resource: dict[str, Any]) -> None:
    start = later(6)
    body = {
        "resource_id": resource["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "purpose": "run\x00 one",
    }
    refused(api.call("operator", "POST", f"{V1}/bookings", body), "purpose")
    refused(api.client.get(f"{V1}/resources", params={"q": "F\x0050"}), "q")
    login = api.client.post(f"{V1}/auth/token", data={"username": "a\x00@b.cn", "password": "x"})
    refused(login, "username")
    nested = {"attributes": {"grade": "D\x00"}}
    refused(api.call("admin", "PATCH", f"{V1}/resources/{resource['id']}", nested), "attributes.grade")


def test_search_treats_percent_and_underscore_as_themselves(api: Api) -> None:
    everything = api.client.get(f"{V1}/resources").json()["count"]
    assert everything > 0
    for wildcard in ("%", "_", "%%", "F_0"):
        found = api.client.get(f"{V1}/resources", params={"q": wildcard}).json()
        assert found["count"] == 0, (wildcard, found["count"])
        assert api.client.get(f"{V1}/platforms", params={"q": wildcard}).json()["count"] == 0
        assert api.call("admin", "GET", f"{V1}/users?q={wildcard.replace('%', '%25')}").json()["count"] == 0
    assert api.client.get(f"{V1}/resources", params={"q": "F50"}).json()["count"] > 0


# --- the OpenAPI document tells the truth about what is accepted and what 422 looks like --------


def _input_schemas(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    schemas = document["components"]["schemas"]
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where)
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(schemas[name], name)
            return
        if node.get("type") in ("integer", "number"):
            found.append((where, node))
        for key, value in node.items():
            if key == "properties":
                for prop, schema in value.items():
                    walk(schema, f"{where}.{prop}")
            elif isinstance(value, dict | list):
                walk(value, where)

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {path} {parameter['name']}")
            walk(operation.get("requestBody", {}), f"{method} {path} body")
    return found


def test_every_number_a_caller_sends_has_bounds_in_the_openapi_document() -> None:
    app = create_app(Settings(database_url="sqlite://", secret_key="k" * 40))
    document = app.openapi()
    unbounded = []
    for where, schema in _input_schemas(document):
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        if schema["type"] == "integer" and (high is None or low is None):
            unbounded.append(where)
        # ids, offsets and page limits are integers; an alarm rule's `limit` is a threshold (a number)
        names_a_row = schema["type"] == "integer" and where.endswith(("_id", "offset", "limit", "candidates"))
        if names_a_row and (high is None or high > DB_INT_MAX):
            unbounded.append(where)
        if schema["type"] == "number" and high is None and "price" not in where and "annual_cap" not in where:
            unbounded.append(where)  # prices and caps are decimals bounded by their digits
    assert unbounded == []


def test_the_openapi_document_describes_the_422_body_the_api_sends(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    shape = schemas["ValidationErrors"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ref = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ValidationErrors"), (method, path)
    body = refused(api.client.get(f"{V1}/platforms?limit=0"), "limit")
    assert set(body) <= set(shape["properties"]) and set(shape["required"]) <= set(body)
    assert json.dumps(body)  # plain JSON: no infinities or exceptions leak into the answer


def test_an_explicit_null_for_a_required_field_is_422_not_500(api: Api, resource: dict[str, Any]) -> None:
    me = api.call("admin", "GET", f"{V1}/me").json()
    refused(api.call("admin", "PATCH", f"{V1}/users/{me['id']}", {"role": None}), "role")
    refused(api.call("admin", "PATCH", f"{V1}/platforms/{api.ids['platform']}", {"name": None}), "name")
    refused(api.call("admin", "PATCH", f"{V1}/resources/{resource['id']}", {"status": None}), "status")
    cleared = api.call("admin", "PATCH", f"{V1}/resources/{resource['id']}", {"description": None})
    assert cleared.status_code == 200 and cleared.json()["description"] is None  # nullable: null clears it
