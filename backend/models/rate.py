"""Rate cards: the published fee standard of a resource, by user class, versioned by validity dates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import Numeric, String
from sqlmodel import Field, SQLModel

from backend.models.common import Day
from backend.models.types import UTCDateTime, utcnow


class UserClass(StrEnum):
    internal = "internal"
    external_sme = "external_sme"
    key_project = "key_project"


class RateUnit(StrEnum):
    hour = "hour"
    day = "day"
    sample = "sample"


class RateCardBase(SQLModel):
    user_class: UserClass = Field(sa_type=String(20))
    unit: RateUnit = Field(sa_type=String(10))
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2, sa_type=Numeric(12, 2))
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    valid_from: Day
    valid_to: Day | None = Field(default=None, description="last day the rate applies; open-ended when null")
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> RateCardBase:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to: must not be before valid_from")
        return self


class RateCard(RateCardBase, table=True):
    __tablename__ = "rate_card"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RateCardCreate(RateCardBase):
    pass


class RateCardUpdate(SQLModel):
    price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    valid_to: Day | None = None
    note: str | None = Field(default=None, max_length=500)


class RateCardPublic(RateCardBase):
    id: int
    resource_id: int
