"""Monthly invoices and innovation vouchers through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from backend.models.booking import Booking
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

_slots = itertools.count()


def org(api: Api, controller: str | None = None) -> int:
    body = {"code": unique("sme"), "name": unique("中小企业"), "kind": "sme", "actual_controller": controller}
    created: dict[str, Any] = api.admin("POST", "/api/v1/organizations", body)
    return int(created["id"])


def voucher(api: Api, org_id: int, percent: str, cap: str, issuer: str = "Shandong province") -> dict:
    body = {
        "organization_id": org_id,
        "number": unique("SDV"),
        "issuer": issuer,
        "year": 2026,
        "percent": percent,
        "annual_cap": cap,
    }
    created: dict = api.admin("POST", "/api/v1/vouchers", body)
    return created


def booked(
    api: Api,
    org_id: int | None,
    day: datetime,
    price: str | None,
    *,
    status: str = "completed",
    user_class: str = "external_sme",
    fee: str | None = None,
) -> int:
    """A booking as the lifecycle leaves it (inserted directly: the API refuses slots in the past)."""
    n = next(_slots)
    start = day + timedelta(hours=(n % 12) * 2, minutes=(n // 12) % 60)  # never two on one slot
    sme_user = api.client.get("/api/v1/me", headers=api.as_("sme")).json()["id"]
    row = Booking(
        platform_id=api.ids["platform"],
        resource_id=api.ids["resource:HPLC-1"],
        organization_id=org_id,
        user_id=sme_user,
        user_class=user_class,
        status=status,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        purpose="pilot run",
        estimated_price=Decimal(price) if price is not None else None,
        cancellation_fee=Decimal(fee) if fee is not None else None,
        cancelled_at=start - timedelta(hours=2) if status == "cancelled" else None,
    )
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def settle(api: Api, month: str, role: str = "operator") -> Any:
    return api.call(
        role, "POST", "/api/v1/invoices/settle", {"platform_id": api.ids["platform"], "month": month}
    )


def invoice_of(result: dict, org_id: int) -> dict:
    return next(i for i in result["invoices"] if i["organization_id"] == org_id)


def test_month_is_invoiced_once_and_sister_companies_share_a_voucher_cap(api: Api) -> None:
    first, sister = org(api, "Zhang Group"), org(api, "zhang  group")
    voucher(api, first, "60", "1000")
    v2 = voucher(api, sister, "60", "1000")
    booked(api, first, datetime(2026, 9, 3, 1, tzinfo=UTC), "1200.00")
    booked(api, sister, datetime(2026, 9, 10, 1, tzinfo=UTC), "1000.00")
    booked(api, sister, datetime(2026, 10, 2, 1, tzinfo=UTC), "500.00")  # October: not in this run

    response = settle(api, "2026-09")
    assert response.status_code == 201, response.text
    a, b = invoice_of(response.json(), first), invoice_of(response.json(), sister)
    assert (a["subtotal"], a["subsidy"], a["amount_due"]) == ("1200.00", "720.00", "480.00")
    # 60 % of 1000 would be 600, but the group has 1000 - 720 = 280 left this year.
    assert (b["subtotal"], b["subsidy"], b["amount_due"]) == ("1000.00", "280.00", "720.00")
    assert [line["amount"] for line in b["lines"]] == ["1000.00"]
    assert b["number"].startswith("jinan-bio-202609-")

    again = settle(api, "2026-09")
    assert again.status_code == 201
    assert {i["organization_id"] for i in again.json()["invoices"]} & {first, sister} == set()
    listed = api.call("admin", "GET", f"/api/v1/invoices?organization_id={sister}").json()
    assert listed["count"] == 1
    state = api.call("admin", "GET", f"/api/v1/vouchers?organization_id={sister}").json()["data"][0]
    assert state["id"] == v2["id"] and (state["used"], state["remaining"]) == ("1000.00", "0.00")

    october = invoice_of(settle(api, "2026-10").json(), sister)
    assert (october["subtotal"], october["subsidy"]) == ("500.00", "0.00")


def test_fees_internal_use_late_completions_and_the_owners_own_use(api: Api) -> None:
    sme = org(api)
    voucher(api, sme, "50", "100000")
    booked(api, sme, datetime(2026, 7, 7, 1, tzinfo=UTC), "800.00")
    booked(api, sme, datetime(2026, 7, 8, 1, tzinfo=UTC), "300.00", user_class="internal")
    booked(api, sme, datetime(2026, 7, 9, 1, tzinfo=UTC), "400.00", status="cancelled", fee="200.00")
    booked(api, sme, datetime(2026, 7, 10, 1, tzinfo=UTC), None)  # no published rate: listed, not charged
    booked(api, sme, datetime(2026, 7, 11, 1, tzinfo=UTC), "999.00", status="no_show")
    july = invoice_of(settle(api, "2026-07").json(), sme)
    kinds = sorted((line["kind"], line["amount"], line["subsidizable"]) for line in july["lines"])
    assert kinds == [
        ("cancellation_fee", "200.00", True),
        ("usage", "0.00", True),
        ("usage", "300.00", False),
        ("usage", "800.00", True),
    ]
    assert (july["subtotal"], july["subsidy"], july["amount_due"]) == ("1300.00", "500.00", "800.00")

    # Completed after July was settled: billed with August, never twice.
    late = booked(api, sme, datetime(2026, 7, 30, 1, tzinfo=UTC), "100.00")
    august = invoice_of(settle(api, "2026-08").json(), sme)
    assert [line["booking_id"] for line in august["lines"]] == [late]

    owner = api.admin("GET", f"/api/v1/platforms/{api.ids['platform']}")["owner_org_id"]
    if owner is not None:
        booked(api, owner, datetime(2026, 6, 2, 1, tzinfo=UTC), "700.00", user_class="internal")
        june = settle(api, "2026-06").json()
        assert owner not in {i["organization_id"] for i in june["invoices"]}


def test_who_may_settle_see_and_mark_paid(api: Api) -> None:
    sme_org = api.ids["sme_org"]
    booked(api, sme_org, datetime(2026, 5, 5, 1, tzinfo=UTC), "600.00")
    for role in ("anonymous", "sme", "auditor", "other_operator"):
        assert settle(api, "2026-05", role).status_code in (401, 403), role
    result = settle(api, "2026-05").json()
    mine = invoice_of(result, sme_org)
    url = f"/api/v1/invoices/{mine['id']}"
    assert api.call("sme", "GET", url).status_code == 200
    assert api.call("auditor", "GET", url).status_code == 200
    assert api.call("other_sme", "GET", url).status_code == 404
    assert api.call("other_operator", "GET", url).status_code == 404
    assert mine["id"] not in [
        i["id"] for i in api.call("other_sme", "GET", "/api/v1/invoices").json()["data"]
    ]
    assert api.call("other_operator", "GET", "/api/v1/invoices").json()["count"] == 0
    assert api.call("sme", "POST", f"{url}/pay").status_code == 403
    paid = api.call("operator", "POST", f"{url}/pay")
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    twice = api.call("operator", "POST", f"{url}/pay")
    assert twice.status_code == 409 and "already" in twice.json()["detail"]
    body = {"organization_id": sme_org, "number": "X-1", "issuer": "Jinan", "year": 2026}
    body |= {"percent": "40", "annual_cap": "5000"}
    for role in ("sme", "operator", "auditor"):
        assert api.call(role, "POST", "/api/v1/vouchers", body).status_code == 403, role
    actions = {
        e["action"] for e in api.call("auditor", "GET", "/api/v1/audit/events?limit=500").json()["data"]
    }
    assert {"invoice.issue", "invoice.paid"} <= actions


@pytest.mark.parametrize(
    ("path", "body", "status", "named"),
    [
        ("/api/v1/invoices/settle", {"month": "2026-13"}, 422, "month"),
        ("/api/v1/invoices/settle", {"month": "2099-01"}, 422, "month"),
        ("/api/v1/invoices/settle", {"month": "2026-01", "platform_id": 99999}, 404, "platform"),
        ("/api/v1/vouchers", {"percent": "120"}, 422, "percent"),
        ("/api/v1/vouchers", {"annual_cap": "-5"}, 422, "annual_cap"),
        ("/api/v1/vouchers", {"organization_id": 99999}, 422, "organization_id"),
    ],
)
def test_bad_input_names_the_problem(api: Api, path: str, body: dict, status: int, named: str) -> None:
    if path.endswith("settle"):
        full = {"platform_id": api.ids["platform"]} | body
    else:
        full = {"organization_id": api.ids["sme_org"], "number": unique("N"), "issuer": "Jinan", "year": 2026}
        full |= {"percent": "40", "annual_cap": "5000"} | body
    response = api.call("admin", "POST", path, full)
    assert response.status_code == status, response.text
    assert named in response.json()["detail"]


def test_vouchers_are_for_smes_only(api: Api) -> None:
    owner = api.admin("GET", "/api/v1/organizations?kind=platform_owner")["data"][0]["id"]
    body = {"organization_id": owner, "number": unique("N"), "issuer": "Jinan", "year": 2026}
    response = api.call("admin", "POST", "/api/v1/vouchers", body | {"percent": "40", "annual_cap": "5000"})
    assert response.status_code == 422 and "organization_id" in response.json()["detail"]


def test_the_monthly_run_invoices_last_month_once_when_switched_on(api: Api) -> None:
    from backend.background import settlement_job
    from backend.services.money.invoices import previous_month

    sme = org(api)
    month, _ = previous_month("Asia/Shanghai")
    booked(api, sme, datetime(int(month[:4]), int(month[5:]), 15, 1, tzinfo=UTC), "300.00")
    app = api.client.app  # type: ignore[attr-defined]
    settings = app.state.settings.model_copy(update={"billing_settle_day": 1})
    assert settlement_job(app.state.engine, settings.model_copy(update={"billing_settle_day": 0})) == []

    issued = [i for i in settlement_job(app.state.engine, settings) if i.organization_id == sme]
    assert [(i.subtotal, i.issued_by_id, f"{i.month:%Y-%m}") for i in issued] == [
        (Decimal("300.00"), None, month)
    ]
    assert [i for i in settlement_job(app.state.engine, settings) if i.organization_id == sme] == []
    events = api.call("auditor", "GET", f"/api/v1/audit/events?subject=invoice:{issued[0].id}").json()["data"]
    assert [(e["action"], e["actor"]) for e in events] == [("invoice.issue", "system")]
