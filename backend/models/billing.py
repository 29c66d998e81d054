"""Invoices (one per organization, platform and month) and innovation vouchers (创新券) that pay part of them.

The rules are in backend/domain/billing.py; docs/billing.md explains them for users.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import Numeric, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.common import DB_INT_MAX, Id
from backend.models.types import UTCDateTime, utcnow


class InvoiceStatus(StrEnum):
    issued = "issued"
    paid = "paid"


class VoucherBase(SQLModel):
    organization_id: int = Field(foreign_key="organization.id", index=True, ge=1, le=DB_INT_MAX)
    number: str = Field(min_length=1, max_length=64, description="the issuer's voucher number")
    issuer: str = Field(min_length=1, max_length=100, description='e.g. "Shandong province", "Jinan city"')
    year: int = Field(ge=2000, le=2100)
    percent: Decimal = Field(gt=0, le=100, max_digits=5, decimal_places=2, sa_type=Numeric(5, 2))
    annual_cap: Decimal = Field(gt=0, max_digits=12, decimal_places=2, sa_type=Numeric(12, 2))
    note: str | None = Field(default=None, max_length=500)


class Voucher(VoucherBase, table=True):
    __table_args__ = (UniqueConstraint("issuer", "number", name="uq_voucher_issuer_number"),)

    id: int | None = Field(default=None, primary_key=True)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VoucherCreate(VoucherBase):
    pass


class VoucherPublic(VoucherBase):
    id: int
    created_at: datetime
    controller_group: str
    used: Decimal  # redeemed this year by the voucher's whole controller group under this issuer
    remaining: Decimal


class Invoice(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("number", name="uq_invoice_number"),
        UniqueConstraint("platform_id", "organization_id", "month", name="uq_invoice_org_month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=80)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    month: date  # first day of the billed month
    currency: str = Field(default="CNY", max_length=3)
    subtotal: Decimal = Field(sa_type=Numeric(12, 2))
    subsidy: Decimal = Field(sa_type=Numeric(12, 2))
    amount_due: Decimal = Field(sa_type=Numeric(12, 2))
    status: InvoiceStatus = Field(default=InvoiceStatus.issued, sa_type=String(10), index=True)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    issued_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"
    # A booking's use and its cancellation fee are each billed once, whatever runs settle concurrently.
    __table_args__ = (UniqueConstraint("booking_id", "kind", name="uq_invoice_line_booking_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    booking_id: int = Field(foreign_key="booking.id")
    kind: str = Field(max_length=20)  # usage | cancellation_fee
    description: str = Field(max_length=300)
    hours: Decimal | None = Field(default=None, sa_type=Numeric(10, 2))
    amount: Decimal = Field(sa_type=Numeric(12, 2))
    subsidizable: bool


class VoucherRedemption(SQLModel, table=True):
    __tablename__ = "voucher_redemption"

    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int = Field(foreign_key="voucher.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    controller_group: str = Field(max_length=240, index=True)
    issuer: str = Field(max_length=100)
    year: int
    amount: Decimal = Field(sa_type=Numeric(12, 2))


class SettleRequest(SQLModel):
    platform_id: Id
    month: str = Field(description="YYYY-MM, in the platform's time zone")


class InvoiceLinePublic(SQLModel):
    booking_id: int
    kind: str
    description: str
    hours: Decimal | None
    amount: Decimal
    subsidizable: bool


class RedemptionPublic(SQLModel):
    voucher_id: int
    issuer: str
    amount: Decimal


class InvoicePublic(SQLModel):
    id: int
    number: str
    platform_id: int
    organization_id: int
    month: str
    currency: str
    subtotal: Decimal
    subsidy: Decimal
    amount_due: Decimal
    status: InvoiceStatus
    issued_at: datetime
    paid_at: datetime | None
    lines: list[InvoiceLinePublic]
    redemptions: list[RedemptionPublic]


class SettleResult(SQLModel):
    month: str
    platform_id: int
    invoices: list[InvoicePublic]

    @model_validator(mode="after")
    def _sorted(self) -> SettleResult:
        self.invoices.sort(key=lambda i: i.number)
        return self
