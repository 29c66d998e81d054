"""Innovation vouchers and monthly invoices (docs/billing.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from backend.http.deps import Caller, Limit, Offset, SessionDep, Writer
from backend.models.billing import (
    InvoicePublic,
    InvoiceStatus,
    SettleRequest,
    SettleResult,
    VoucherCreate,
    VoucherPublic,
)
from backend.models.common import FIRST_YEAR, LAST_YEAR, Id, Page
from backend.services.money import invoices as invoice_service
from backend.services.money import vouchers as voucher_service

vouchers = APIRouter(prefix="/vouchers", tags=["billing"])
invoices = APIRouter(prefix="/invoices", tags=["billing"])


@vouchers.get("", response_model=Page[VoucherPublic])
def list_vouchers(
    session: SessionDep,
    who: Caller,
    organization_id: Id | None = None,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[VoucherPublic]:
    rows, count = voucher_service.list_vouchers(session, who, organization_id, year, offset, limit)
    return Page(data=[voucher_service.voucher_public(session, v) for v in rows], count=count)


@vouchers.post("", response_model=VoucherPublic, status_code=status.HTTP_201_CREATED)
def create_voucher(write: Writer, who: Caller, data: VoucherCreate) -> VoucherPublic:
    with write() as session:
        return voucher_service.voucher_public(session, voucher_service.create_voucher(session, who, data))


@invoices.get("", response_model=Page[InvoicePublic])
def list_invoices(
    session: SessionDep,
    who: Caller,
    platform_id: Id | None = None,
    organization_id: Id | None = None,
    month: str | None = None,
    status: InvoiceStatus | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[InvoicePublic]:
    rows, count = invoice_service.list_invoices(
        session, who, platform_id, organization_id, month, status, offset, limit
    )
    return Page(data=[invoice_service.to_public(session, i) for i in rows], count=count)


@invoices.post("/settle", response_model=SettleResult, status_code=status.HTTP_201_CREATED)
def settle(write: Writer, who: Caller, data: SettleRequest) -> SettleResult:
    """Issue the month's invoices of a platform (operator of the platform, or admin)."""
    with write() as session:
        issued = invoice_service.settle(session, who, data.platform_id, data.month)
        return SettleResult(
            month=data.month.strip(),
            platform_id=data.platform_id,
            invoices=[invoice_service.to_public(session, i) for i in issued],
        )


@invoices.get("/{invoice_id}", response_model=InvoicePublic)
def get_invoice(session: SessionDep, who: Caller, invoice_id: Id) -> InvoicePublic:
    return invoice_service.to_public(session, invoice_service.get_invoice(session, who, invoice_id))


@invoices.post("/{invoice_id}/pay", response_model=InvoicePublic)
def mark_paid(write: Writer, who: Caller, invoice_id: Id) -> InvoicePublic:
    with write() as session:
        return invoice_service.to_public(session, invoice_service.mark_paid(session, who, invoice_id))
