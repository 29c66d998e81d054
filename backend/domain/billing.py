"""Monthly invoices and innovation vouchers (创新券): the pure rules, amounts in yuan with 2 decimals.

- A platform settles a calendar month (in its own time zone). Billed: every completed booking that ended in
  the month at its quoted price (the rate card valid when it was booked, kept on the booking), and every
  cancellation fee charged in the month. A booking is billed once; a line's instruments are not billed on
  top of the line.
- An innovation voucher pays ``percent`` of the subsidizable part of an invoice (what external SMEs and key
  projects pay; internal use is not subsidized) up to its annual cap. The cap counts **together** every
  voucher of the same issuer and year held by organizations with the same actual controller (an SME
  without a recorded controller is its own group), so splitting work across sister companies does not
  multiply the subsidy. Several vouchers on one invoice (a province's and a city's top-up) are applied in
  order of issuer, then id, and together never pay more than the subsidizable amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from backend.domain.errors import Invalid

CENT = Decimal("0.01")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_month(text: str, field: str = "month") -> date:
    """'2026-12' -> the first day of that month."""
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise Invalid(field, f"give a month as YYYY-MM, e.g. 2026-12, not {text!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_bounds(first: date, zone: str) -> tuple[datetime, datetime]:
    """The month that starts on ``first``, as a half-open UTC interval, midnight to midnight in ``zone``."""
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(), tz).astimezone(UTC)
    end = datetime.combine(nxt, time(), tz).astimezone(UTC)
    return start, end


def controller_group(organization_id: int, actual_controller: str | None) -> str:
    """Organizations that share a voucher cap: same actual controller, else the organization alone."""
    name = " ".join((actual_controller or "").split()).casefold()
    return f"controller:{name}" if name else f"org:{organization_id}"


@dataclass(frozen=True)
class Charge:
    booking_id: int
    kind: str  # "usage" | "cancellation_fee"
    description: str
    hours: Decimal | None
    amount: Decimal
    subsidizable: bool


@dataclass(frozen=True)
class VoucherTerms:
    voucher_id: int
    issuer: str
    percent: Decimal
    cap: Decimal
    used: Decimal  # already redeemed this year by the voucher's whole controller group, same issuer


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    subsidizable: Decimal
    subsidy: Decimal
    amount_due: Decimal
    redemptions: tuple[tuple[int, Decimal], ...]


def apply_vouchers(subsidizable: Decimal, vouchers: list[VoucherTerms]) -> list[tuple[int, Decimal]]:
    """(voucher id, amount) for each voucher that pays something towards ``subsidizable``."""
    left = money(subsidizable)
    out: list[tuple[int, Decimal]] = []
    spent: dict[str, Decimal] = {}  # by issuer, in this call: two vouchers of one issuer share its cap
    for v in sorted(vouchers, key=lambda v: (v.issuer, v.voucher_id)):
        if left <= 0:
            break
        wanted = money(money(subsidizable) * v.percent / Decimal(100))
        room = max(Decimal(0), v.cap - v.used - spent.get(v.issuer, Decimal(0)))
        amount = min(wanted, room, left)
        if amount > 0:
            out.append((v.voucher_id, amount))
            left -= amount
            spent[v.issuer] = spent.get(v.issuer, Decimal(0)) + amount
    return out


def totals(charges: list[Charge], vouchers: list[VoucherTerms]) -> Totals:
    subtotal = money(sum((c.amount for c in charges), Decimal(0)))
    subsidizable = money(sum((c.amount for c in charges if c.subsidizable), Decimal(0)))
    redemptions = apply_vouchers(subsidizable, vouchers)
    subsidy = money(sum((a for _, a in redemptions), Decimal(0)))
    return Totals(subtotal, subsidizable, subsidy, subtotal - subsidy, tuple(redemptions))


def invoice_number(platform_code: str, first: date, sequence: int) -> str:
    return f"{platform_code}-{first:%Y%m}-{sequence:04d}"
