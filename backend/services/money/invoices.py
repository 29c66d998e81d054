"""Monthly invoices: who may see and do what, and the settlement run (docs/billing.md).

Settlement (`settle`) bills, per organization, every completed booking of the platform that ended before the
month's end and every cancellation fee charged before it that no invoice holds yet — so a booking completed
after its month was settled is billed with the next month. One invoice per organization, platform and
month; the database refuses a second one and a second line for the same booking and kind, so two
settlement runs racing each other cannot bill anything twice (the loser gets 409)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from backend.domain.access import (
    Principal,
    can_see_tenant_row,
    ensure_can_write,
    ensure_manages_platform,
    read_scope,
)
from backend.domain.billing import (
    Charge,
    VoucherTerms,
    invoice_number,
    money,
    month_bounds,
    parse_month,
    totals,
)
from backend.domain.bookings import BookingStatus
from backend.domain.errors import Conflict, Invalid, NotFound
from backend.models.billing import (
    Invoice,
    InvoiceLine,
    InvoiceLinePublic,
    InvoicePublic,
    InvoiceStatus,
    RedemptionPublic,
    Voucher,
    VoucherRedemption,
)
from backend.models.booking import Booking
from backend.models.organization import Organization
from backend.models.platform import Platform
from backend.models.rate import UserClass
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.services import audit
from backend.services.catalog.platforms import get_platform
from backend.services.common import get_or_404, page
from backend.services.money.vouchers import SUBSIDIZED_CLASSES, voucher_group, voucher_used


def _billed(kind: str) -> sa.Exists:
    return sa.exists().where(col(InvoiceLine.booking_id) == col(Booking.id), col(InvoiceLine.kind) == kind)


def _billable(session: Session, platform_id: int, end: datetime) -> list[Booking]:
    """Top-level bookings with something to bill before ``end`` that no invoice holds yet."""
    done = select(Booking).where(
        Booking.platform_id == platform_id,
        col(Booking.parent_id).is_(None),
        col(Booking.organization_id).is_not(None),
        Booking.status == BookingStatus.completed,
        col(Booking.ends_at) < end,
        ~_billed("usage"),
    )
    fees = select(Booking).where(
        Booking.platform_id == platform_id,
        col(Booking.parent_id).is_(None),
        col(Booking.organization_id).is_not(None),
        Booking.status == BookingStatus.cancelled,
        col(Booking.cancellation_fee) > 0,
        col(Booking.cancelled_at) < end,
        ~_billed("cancellation_fee"),
    )
    rows = list(session.exec(done.order_by(col(Booking.ends_at), col(Booking.id))).all())
    rows += list(session.exec(fees.order_by(col(Booking.cancelled_at), col(Booking.id))).all())
    return rows


def _charge_of(booking: Booking, resource_code: str, zone: ZoneInfo) -> Charge:
    assert booking.id is not None and booking.starts_at is not None and booking.ends_at is not None
    subsidizable = UserClass(booking.user_class) in SUBSIDIZED_CLASSES
    starts, ends = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
    if booking.status == BookingStatus.cancelled:
        return Charge(
            booking.id,
            "cancellation_fee",
            f"late cancellation of booking {booking.id}, {resource_code} {starts:%Y-%m-%d %H:%M}",
            None,
            money(booking.cancellation_fee or Decimal(0)),
            subsidizable,
        )
    hours = money(Decimal(int((ends - starts).total_seconds())) / Decimal(3600))
    price = booking.estimated_price
    note = "" if price is not None else " (no rate card published for this class: not charged)"
    return Charge(
        booking.id,
        "usage",
        f"booking {booking.id}, {resource_code} {starts:%Y-%m-%d %H:%M}–{ends:%m-%d %H:%M}, "
        f"{booking.user_class}{note}",
        hours,
        money(price or Decimal(0)),
        subsidizable,
    )


def _lock_group(session: Session, group: str) -> None:
    """Serialize redemptions against one controller group's caps (SQLite's write lock already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:g))"), {"g": f"voucher:{group}"})


def settle(session: Session, who: Principal | None, platform_id: int, month_text: str) -> list[Invoice]:
    """Issue the month's invoices; ``who`` None is the system's monthly run (`settlement_job`)."""
    if who is not None:
        ensure_can_write(who)
    platform = get_platform(session, platform_id)
    if who is not None:
        ensure_manages_platform(who, platform_id)
    actor = who.user_id if who is not None else None
    first = parse_month(month_text)
    _, end = month_bounds(first, platform.timezone)
    zone = ZoneInfo(platform.timezone)
    if end > utcnow():
        raise Invalid(
            "month", f"{first:%Y-%m} has not ended yet in {platform.timezone}; settle it after it ends"
        )
    existing = set(
        session.exec(
            select(Invoice.organization_id).where(Invoice.platform_id == platform_id, Invoice.month == first)
        ).all()
    )
    by_org: dict[int, list[Booking]] = defaultdict(list)
    for booking in _billable(session, platform_id, end):
        assert booking.organization_id is not None
        if booking.organization_id == platform.owner_org_id or booking.organization_id in existing:
            continue  # the owner's own use is not invoiced; a settled org-month waits for the next month
        by_org[booking.organization_id].append(booking)
    codes = dict(
        session.exec(select(Resource.id, Resource.code).where(Resource.platform_id == platform_id)).all()
    )
    count = session.exec(
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.platform_id == platform_id, Invoice.month == first)
    ).one()
    invoices: list[Invoice] = []
    for org_id in sorted(by_org):
        org = get_or_404(session, Organization, org_id, "organization")
        charges = [_charge_of(b, codes.get(b.resource_id or 0, "?"), zone) for b in by_org[org_id]]
        group = voucher_group(org)
        _lock_group(session, group)
        vouchers = session.exec(
            select(Voucher).where(Voucher.organization_id == org_id, Voucher.year == first.year)
        ).all()
        terms = [
            VoucherTerms(
                v.id or 0, v.issuer, v.percent, v.annual_cap, voucher_used(session, group, v.issuer, v.year)
            )
            for v in vouchers
        ]
        sums = totals(charges, terms)
        count += 1
        invoice = Invoice(
            number=invoice_number(platform.code, first, count),
            platform_id=platform_id,
            organization_id=org_id,
            month=first,
            subtotal=sums.subtotal,
            subsidy=sums.subsidy,
            amount_due=sums.amount_due,
            issued_by_id=actor,
        )
        session.add(invoice)
        session.flush()
        assert invoice.id is not None
        for c in charges:
            session.add(
                InvoiceLine(
                    invoice_id=invoice.id,
                    booking_id=c.booking_id,
                    kind=c.kind,
                    description=c.description[:300],
                    hours=c.hours,
                    amount=c.amount,
                    subsidizable=c.subsidizable,
                )
            )
        issuers = {v.id: v.issuer for v in vouchers}
        for voucher_id, amount in sums.redemptions:
            session.add(
                VoucherRedemption(
                    voucher_id=voucher_id,
                    invoice_id=invoice.id,
                    controller_group=group,
                    issuer=issuers[voucher_id],
                    year=first.year,
                    amount=amount,
                )
            )
        session.flush()
        audit.append(
            session,
            "invoice.issue",
            ("invoice", invoice.id),
            actor=actor,
            platform_id=platform_id,
            payload={
                "number": invoice.number,
                "organization_id": org_id,
                "month": f"{first:%Y-%m}",
                "subtotal": str(sums.subtotal),
                "subsidy": str(sums.subsidy),
                "amount_due": str(sums.amount_due),
                "bookings": [c.booking_id for c in charges],
                "redemptions": [[v, str(a)] for v, a in sums.redemptions],
            },
        )
        invoices.append(invoice)
    return invoices


def _visible(who: Principal) -> sa.ColumnElement[bool] | None:
    scope = read_scope(who)
    if scope.organization_id is not None:
        return col(Invoice.organization_id) == scope.organization_id
    if scope.platform_id is not None:
        return col(Invoice.platform_id) == scope.platform_id
    return None  # admin, auditor


def list_invoices(
    session: Session,
    who: Principal,
    platform_id: int | None,
    organization_id: int | None,
    month: str | None,
    status: InvoiceStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[Invoice], int]:
    statement = select(Invoice).order_by(col(Invoice.month).desc(), col(Invoice.number))
    rule = _visible(who)
    if rule is not None:
        statement = statement.where(rule)
    if platform_id is not None:
        statement = statement.where(Invoice.platform_id == platform_id)
    if organization_id is not None:
        statement = statement.where(Invoice.organization_id == organization_id)
    if month is not None:
        statement = statement.where(Invoice.month == parse_month(month))
    if status is not None:
        statement = statement.where(Invoice.status == status)
    return page(session, statement, offset, limit)


def get_invoice(session: Session, who: Principal, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or not _sees(who, invoice):
        # The same answer whether it does not exist or is someone else's: ids reveal nothing.
        raise NotFound(f"invoice {invoice_id} does not exist")
    return invoice


def _sees(who: Principal, invoice: Invoice) -> bool:
    return can_see_tenant_row(who, invoice.platform_id, invoice.organization_id)


def mark_paid(session: Session, who: Principal, invoice_id: int) -> Invoice:
    ensure_can_write(who)
    invoice = get_invoice(session, who, invoice_id)
    ensure_manages_platform(who, invoice.platform_id)
    if invoice.status == InvoiceStatus.paid:
        raise Conflict(
            f"invoice {invoice.number} was already marked paid at {invoice.paid_at:%Y-%m-%d %H:%M}"
        )
    invoice.status = InvoiceStatus.paid
    invoice.paid_at = utcnow()
    session.add(invoice)
    session.flush()
    audit.append(
        session,
        "invoice.paid",
        ("invoice", invoice_id),
        actor=who.user_id,
        platform_id=invoice.platform_id,
        payload={"number": invoice.number, "amount_due": str(invoice.amount_due)},
    )
    return invoice


def to_public(session: Session, invoice: Invoice) -> InvoicePublic:
    lines = session.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(col(InvoiceLine.id))
    ).all()
    redemptions = session.exec(
        select(VoucherRedemption)
        .where(VoucherRedemption.invoice_id == invoice.id)
        .order_by(col(VoucherRedemption.id))
    ).all()
    return InvoicePublic(
        id=invoice.id or 0,
        number=invoice.number,
        platform_id=invoice.platform_id,
        organization_id=invoice.organization_id,
        month=f"{invoice.month:%Y-%m}",
        currency=invoice.currency,
        subtotal=invoice.subtotal,
        subsidy=invoice.subsidy,
        amount_due=invoice.amount_due,
        status=InvoiceStatus(invoice.status),
        issued_at=invoice.issued_at,
        paid_at=invoice.paid_at,
        lines=[InvoiceLinePublic.model_validate(line, from_attributes=True) for line in lines],
        redemptions=[
            RedemptionPublic(voucher_id=r.voucher_id, issuer=r.issuer, amount=r.amount) for r in redemptions
        ],
    )


def previous_month(platform_zone: str, now: datetime | None = None) -> tuple[str, int]:
    """The month before the current one in ``platform_zone`` ("YYYY-MM"), and today's day of the month."""
    today = (now or utcnow()).astimezone(ZoneInfo(platform_zone)).date()
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}", today.day


def settle_due_months(session: Session, settle_day: int, now: datetime | None = None) -> list[Invoice]:
    """The system's monthly run: from day ``settle_day`` on, settle every platform's previous month.

    Repeating it is harmless (what is invoiced stays invoiced), so every API replica may run it."""
    issued: list[Invoice] = []
    for platform in session.exec(select(Platform).order_by(col(Platform.id))).all():
        month, day = previous_month(platform.timezone, now)
        if day >= settle_day and platform.id is not None:
            issued += settle(session, None, platform.id, month)
    return issued
