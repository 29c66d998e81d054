"""Invoice and innovation-voucher rules (backend/domain/billing.py)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.billing import (
    Charge,
    VoucherTerms,
    apply_vouchers,
    controller_group,
    invoice_number,
    month_bounds,
    parse_month,
    totals,
)
from backend.domain.errors import Invalid

D = Decimal


def voucher(vid: int, percent: str, cap: str, used: str = "0", issuer: str = "Shandong") -> VoucherTerms:
    return VoucherTerms(vid, issuer, D(percent), D(cap), D(used))


def test_months_are_named_yyyy_mm_and_bad_ones_name_the_field() -> None:
    assert parse_month(" 2026-12 ") == date(2026, 12, 1)
    for bad in ("2026-13", "2026-1", "Dec 2026", "2026-00"):
        with pytest.raises(Invalid) as err:
            parse_month(bad)
        assert err.value.field == "month" and "YYYY-MM" in str(err.value)


def test_a_month_runs_midnight_to_midnight_in_the_platforms_zone() -> None:
    start, end = month_bounds(date(2026, 12, 1), "Asia/Shanghai")
    assert start == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, tzinfo=UTC)


def test_sister_companies_share_one_cap_group() -> None:
    assert controller_group(1, " Zhang  Wei ") == controller_group(2, "zhang wei")
    assert controller_group(1, None) == "org:1" != controller_group(2, "")


def test_voucher_pays_its_percent_up_to_what_is_left_of_the_groups_cap() -> None:
    assert apply_vouchers(D("1000"), [voucher(1, "60", "10000")]) == [(1, D("600.00"))]
    assert apply_vouchers(D("1000"), [voucher(1, "60", "10000", used="9800")]) == [(1, D("200"))]
    assert apply_vouchers(D("1000"), [voucher(1, "60", "500", used="500")]) == []


def test_province_and_city_vouchers_together_never_pay_more_than_the_bill() -> None:
    got = apply_vouchers(D("1000"), [voucher(2, "50", "9999", issuer="Jinan"), voucher(1, "60", "9999")])
    # Applied in order of issuer: Jinan 50 % first, then Shandong's 60 % only up to what is left.
    assert got == [(2, D("500.00")), (1, D("500.00"))]


def test_internal_use_is_billed_but_not_subsidized() -> None:
    charges = [
        Charge(1, "usage", "sme run", D("2"), D("800.00"), True),
        Charge(2, "usage", "internal run", D("1"), D("300.00"), False),
    ]
    t = totals(charges, [voucher(1, "60", "10000")])
    assert (t.subtotal, t.subsidizable, t.subsidy, t.amount_due) == (
        D("1100.00"),
        D("800.00"),
        D("480.00"),
        D("620.00"),
    )
    assert invoice_number("jinan-bio", date(2026, 9, 1), 7) == "jinan-bio-202609-0007"


amounts = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)


@given(
    subsidizable=amounts,
    terms=st.lists(
        st.tuples(st.integers(1, 100), amounts, amounts, st.sampled_from(["A", "B", "C"])), max_size=4
    ),
)
def test_subsidy_stays_within_the_bill_and_every_cap(subsidizable: Decimal, terms: list) -> None:
    vouchers = [
        voucher(i, str(p), str(cap), str(used), issuer) for i, (p, cap, used, issuer) in enumerate(terms)
    ]
    got = dict(apply_vouchers(subsidizable, vouchers))
    assert sum(got.values(), D(0)) <= subsidizable
    for v in vouchers:
        paid = got.get(v.voucher_id, D(0))
        assert D(0) <= paid <= max(D(0), v.cap - v.used)
        assert paid <= subsidizable * v.percent / 100 + D("0.005")
    for issuer in {v.issuer for v in vouchers}:
        mine = [v for v in vouchers if v.issuer == issuer]
        paid = sum((got.get(v.voucher_id, D(0)) for v in mine), D(0))
        assert paid <= max(max(D(0), v.cap - v.used) for v in mine)
