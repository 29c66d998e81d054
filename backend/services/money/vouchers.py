"""Innovation vouchers: a share of each invoice the issuer pays, up to an annual cap that sister companies
(the same actual controller) share (docs/billing.md)."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, col, func, select

from backend.domain.access import (
    Principal,
    Role,
    ensure_admin,
)
from backend.domain.billing import (
    controller_group,
    money,
)
from backend.domain.errors import AccessDenied, Conflict, Invalid
from backend.models.billing import (
    Voucher,
    VoucherCreate,
    VoucherPublic,
    VoucherRedemption,
)
from backend.models.booking import Booking
from backend.models.organization import Organization, OrgKind
from backend.models.rate import UserClass
from backend.services import audit
from backend.services.common import get_or_404, page

SUBSIDIZED_CLASSES = frozenset({UserClass.external_sme, UserClass.key_project})


def voucher_group(org: Organization) -> str:
    assert org.id is not None
    return controller_group(org.id, org.actual_controller)


def voucher_used(session: Session, group: str, issuer: str, year: int) -> Decimal:
    total = session.exec(
        select(func.coalesce(func.sum(VoucherRedemption.amount), 0)).where(
            VoucherRedemption.controller_group == group,
            VoucherRedemption.issuer == issuer,
            VoucherRedemption.year == year,
        )
    ).one()
    return money(Decimal(total))


def voucher_public(session: Session, voucher: Voucher) -> VoucherPublic:
    org = get_or_404(session, Organization, voucher.organization_id, "organization")
    group = voucher_group(org)
    used = voucher_used(session, group, voucher.issuer, voucher.year)
    return VoucherPublic.model_validate(
        voucher,
        update={
            "controller_group": group,
            "used": used,
            "remaining": money(max(Decimal(0), voucher.annual_cap - used)),
        },
    )


def create_voucher(session: Session, who: Principal, data: VoucherCreate) -> Voucher:
    """Vouchers are granted by the authority's administrators, to SMEs."""
    ensure_admin(who)
    org = session.get(Organization, data.organization_id)
    if org is None:
        raise Invalid("organization_id", f"organization {data.organization_id} does not exist")
    if org.kind != OrgKind.sme:
        raise Invalid("organization_id", f"{org.name} is not an SME; innovation vouchers are for SMEs")
    duplicate = session.exec(
        select(Voucher).where(Voucher.issuer == data.issuer, Voucher.number == data.number)
    ).first()
    if duplicate is not None:
        raise Conflict(f"{data.issuer} voucher {data.number} is already recorded", existing=duplicate.id)
    voucher = Voucher.model_validate(data, update={"created_by_id": who.user_id})
    session.add(voucher)
    session.flush()
    audit.append(
        session,
        "voucher.grant",
        ("voucher", voucher.id or 0),
        actor=who.user_id,
        platform_id=None,
        payload={
            "organization_id": voucher.organization_id,
            "number": voucher.number,
            "issuer": voucher.issuer,
            "year": voucher.year,
            "percent": str(voucher.percent),
            "annual_cap": str(voucher.annual_cap),
        },
    )
    return voucher


def list_vouchers(
    session: Session, who: Principal, organization_id: int | None, year: int | None, offset: int, limit: int
) -> tuple[list[Voucher], int]:
    statement = select(Voucher).order_by(col(Voucher.id))
    if who.role is Role.sme:
        if organization_id is not None and organization_id != who.organization_id:
            raise AccessDenied("you can see only your own organization's vouchers")
        organization_id = who.organization_id
    elif who.role is Role.operator:
        # An operator sees the vouchers of organizations that booked on their platform.
        customers = select(Booking.organization_id).where(Booking.platform_id == who.platform_id)
        statement = statement.where(col(Voucher.organization_id).in_(customers))
    if organization_id is not None:
        statement = statement.where(Voucher.organization_id == organization_id)
    if year is not None:
        statement = statement.where(Voucher.year == year)
    return page(session, statement, offset, limit)
