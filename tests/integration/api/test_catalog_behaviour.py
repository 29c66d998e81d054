"""What catalog users see: search, availability around opening hours and maintenance, clear errors."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
WEEKDAYS = {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def _resource(api: Api, **extra: object) -> dict:
    body = {
        "platform_id": api.ids["platform"],
        "code": unique("AV"),
        "kind": "instrument",
        "name": "测试反应釜",
        "name_en": "Test reactor",
        **extra,
    }
    return api.admin("POST", f"{V1}/resources", body)


def _free(api: Api, rid: int, start: str, end: str) -> list[tuple[str, str]]:
    url = f"{V1}/resources/{rid}/availability?from={start.replace('+', '%2B')}&to={end.replace('+', '%2B')}"
    response = api.client.get(url)
    assert response.status_code == 200, response.text
    return [(f["start"], f["end"]) for f in response.json()["free"]]


def test_availability_across_midnight_in_shanghai_with_maintenance(api: Api) -> None:
    r = _resource(api, opening_hours=WEEKDAYS)
    # Tue 1 Dec 2026, 18:00 to Wed 2 Dec 10:00 local; maintenance Wed 08:30-09:00 local given in UTC.
    api.admin(
        "POST",
        f"{V1}/resources/{r['id']}/maintenance",
        {"start": "2026-12-02T00:30:00Z", "end": "2026-12-02T01:00:00Z", "reason": "calibration"},
    )
    got = _free(api, r["id"], "2026-12-01T18:00:00+08:00", "2026-12-02T10:00:00+08:00")
    assert got == [
        ("2026-12-01T18:00:00+08:00", "2026-12-01T20:00:00+08:00"),
        ("2026-12-02T08:00:00+08:00", "2026-12-02T08:30:00+08:00"),
        ("2026-12-02T09:00:00+08:00", "2026-12-02T10:00:00+08:00"),
    ]


def test_night_shift_and_window_given_in_utc(api: Api) -> None:
    r = _resource(api, opening_hours={"tue": [["22:00", "06:00"]]})
    got = _free(api, r["id"], "2026-12-01T12:00:00Z", "2026-12-02T00:00:00Z")  # Tue 20:00 to Wed 08:00 local
    assert got == [("2026-12-01T22:00:00+08:00", "2026-12-02T06:00:00+08:00")]


def test_resource_without_hours_follows_its_platform(api: Api) -> None:
    r = _resource(api)
    got = _free(api, r["id"], "2026-12-06T00:00:00+08:00", "2026-12-07T12:00:00+08:00")  # Sunday closed
    assert got == [("2026-12-07T08:00:00+08:00", "2026-12-07T12:00:00+08:00")]


def test_line_is_blocked_by_a_members_maintenance(api: Api) -> None:
    member = _resource(api, opening_hours={"wed": [["00:00", "24:00"]]})
    line = _resource(api, kind="line", members=[member["code"]], opening_hours={"wed": [["08:00", "20:00"]]})
    assert line["members"] == [member["code"]]
    api.admin(
        "POST",
        f"{V1}/resources/{member['id']}/maintenance",
        {"start": "2026-12-02T12:00:00+08:00", "end": "2026-12-02T14:00:00+08:00"},
    )
    got = _free(api, line["id"], "2026-12-02T00:00:00+08:00", "2026-12-03T00:00:00+08:00")
    assert got == [
        ("2026-12-02T08:00:00+08:00", "2026-12-02T12:00:00+08:00"),
        ("2026-12-02T14:00:00+08:00", "2026-12-02T20:00:00+08:00"),
    ]


def test_retired_resource_has_no_free_time(api: Api) -> None:
    r = _resource(api)
    api.admin("PATCH", f"{V1}/resources/{r['id']}", {"status": "retired"})
    assert _free(api, r["id"], "2026-12-01T00:00:00+08:00", "2026-12-02T00:00:00+08:00") == []


def test_search_by_capability_attribute_range_and_chinese_text(api: Api) -> None:
    def codes(query: str) -> set[str]:
        found = api.client.get(f"{V1}/resources?platform=jinan-bio&{query}").json()["data"]
        return {r["code"] for r in found}

    assert codes("capability=fermentation&attr=volume_l:50..100") == {"F50-1", "F50-2"}
    assert codes("capability=fermentation&attr=volume_l:100..") == {"F500-1", "PL-1"}
    assert codes("q=喷雾") == {"SD-1"}
    assert codes("q=spray&kind=line") == {"PL-1"}
    assert codes("attr=grade:D") == {"CR-1"}
    page = api.client.get(f"{V1}/resources?platform=jinan-bio&limit=3&offset=3").json()
    assert len(page["data"]) == 3 and page["count"] >= 12


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/resources", {"code": "has space", "kind": "instrument", "name": "x"}, "code"),
        ("POST", "/resources", {"code": "OK-1", "kind": "robot", "name": "x"}, "kind"),
        (
            "POST",
            "/resources",
            {"code": "OK-2", "kind": "instrument", "name": "x", "opening_hours": {"mon": [["8", "20:00"]]}},
            "opening_hours",
        ),
        (
            "POST",
            "/resources",
            {"code": "OK-3", "kind": "instrument", "name": "x", "members": ["F5-1"]},
            "members",
        ),
        (
            "POST",
            "/resources",
            {"code": "OK-4", "kind": "instrument", "name": "x", "capabilities": ["Bad Tag"]},
            "capabilities",
        ),
        (
            "POST",
            "/organizations",
            {"code": "x1", "name": "某公司", "kind": "sme", "credit_code": "91370102MA3D7K8R2X"},
            "credit_code",
        ),
        (
            "POST",
            "/users",
            {"email": "not-an-email", "password": "password-123", "full_name": "x", "role": "sme"},
            "email",
        ),
        (
            "POST",
            "/users",
            {"email": "op@x.cn", "password": "password-123", "full_name": "x", "role": "operator"},
            "platform_id",
        ),
        (
            "POST",
            "/platforms",
            {"code": "p1", "name": "x", "city": "济南", "industry": "x", "timezone": "Mars/Base"},
            "timezone",
        ),
    ],
)
def test_bad_input_is_422_naming_the_field(api: Api, method: str, path: str, body: dict, field: str) -> None:
    if path == "/resources":
        body = {"platform_id": api.ids["platform"], **body}
    response = api.call("admin", method, f"{V1}{path}", body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(field) or f"{field}:" in response.json()["detail"]


def test_bad_rate_and_maintenance_and_availability_input(api: Api) -> None:
    rid = api.ids["resource:F5-1"]
    bad_rate = api.call(
        "admin",
        "POST",
        f"{V1}/resources/{rid}/rates",
        {"user_class": "vip", "unit": "hour", "price": "-1", "valid_from": "2026-01-01"},
    )
    assert bad_rate.status_code == 422
    assert {e["field"] for e in bad_rate.json()["errors"]} == {"user_class", "price"}
    naive = api.call(
        "admin",
        "POST",
        f"{V1}/resources/{rid}/maintenance",
        {"start": "2026-12-01T08:00:00", "end": "2026-12-01T09:00:00"},
    )
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    backwards = api.client.get(
        f"{V1}/resources/{rid}/availability?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z"
    )
    assert backwards.status_code == 422 and backwards.json()["detail"].startswith("to")
    too_long = api.client.get(
        f"{V1}/resources/{rid}/availability?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z"
    )
    assert too_long.status_code == 422


def test_overlapping_rate_cards_conflict_and_nothing_is_lost(api: Api) -> None:
    r = _resource(api)
    first = {
        "user_class": "external_sme",
        "unit": "hour",
        "price": "100",
        "valid_from": "2026-01-01",
        "valid_to": "2026-06-30",
    }
    api.admin("POST", f"{V1}/resources/{r['id']}/rates", first)
    clash = api.call(
        "admin",
        "POST",
        f"{V1}/resources/{r['id']}/rates",
        {**first, "valid_from": "2026-06-01", "valid_to": None, "price": "120"},
    )
    assert clash.status_code == 409 and "already applies" in clash.json()["detail"]
    later = api.call(
        "admin",
        "POST",
        f"{V1}/resources/{r['id']}/rates",
        {**first, "valid_from": "2026-07-01", "valid_to": None, "price": "120"},
    )
    assert later.status_code == 201
    on_day = api.client.get(f"{V1}/resources/{r['id']}/rates?on=2026-08-01").json()["data"]
    assert [c["price"] for c in on_day] == ["120.00"]
    assert api.client.get(f"{V1}/resources/{r['id']}/rates").json()["count"] == 2


def test_duplicate_codes_conflict(api: Api) -> None:
    body = {"platform_id": api.ids["platform"], "code": "F5-1", "kind": "instrument", "name": "dup"}
    response = api.call("admin", "POST", f"{V1}/resources", body)
    assert response.status_code == 409 and response.json()["detail"].startswith("code")


def test_health_and_openapi(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json()["status"] == "ok"
    assert api.client.get(f"{V1}/readyz").status_code == 200
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/resources/{resource_id}/availability" in spec["paths"]
    assert "PilotShare" in api.client.get("/").text


def test_metrics_count_requests_and_report_business_gauges(api: Api) -> None:
    api.client.get(f"{V1}/platforms")
    text = api.client.get("/metrics").text
    assert 'pilotshare_http_requests_total{method="GET",route="/api/v1/platforms",status="200"}' in text
    assert 'pilotshare_resources{kind="instrument",status="active"}' in text
    assert "# TYPE pilotshare_bookings gauge" in text
    assert api.client.get(f"{V1}/metrics").status_code == 200
    api.client.get(f"{V1}/resources/{api.ids['resource:F5-1']}")
    assert 'route="/api/v1/resources/{resource_id}"' in api.client.get("/metrics").text
    echoed = api.client.get("/healthz", headers={"x-request-id": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    assert len(api.client.get("/healthz").headers["x-request-id"]) == 16
