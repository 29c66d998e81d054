from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from backend.domain.credit_code import check_credit_code
from backend.models.common import Code, Name
from backend.models.types import UTCDateTime, utcnow


class OrgKind(StrEnum):
    sme = "sme"
    platform_owner = "platform_owner"
    authority = "authority"
    research = "research"
    other = "other"


class OrganizationBase(SQLModel):
    code: Code = Field(max_length=64, unique=True, index=True)
    name: Name = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    kind: OrgKind = Field(sa_type=String(20))
    credit_code: str | None = Field(default=None, max_length=18, unique=True)
    actual_controller: str | None = Field(
        default=None,
        max_length=200,
        description="who ultimately controls it; voucher caps count per controller",
    )

    @field_validator("credit_code")
    @classmethod
    def _valid_credit_code(cls, value: str | None) -> str | None:
        return None if value is None else check_credit_code(value)


class Organization(OrganizationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrganizationCreate(OrganizationBase):
    pass


class OrganizationUpdate(SQLModel):
    name: Name | None = None
    name_en: str | None = None
    kind: OrgKind | None = None
    credit_code: str | None = None
    actual_controller: str | None = None

    @field_validator("credit_code")
    @classmethod
    def _valid_credit_code(cls, value: str | None) -> str | None:
        return None if value is None else check_credit_code(value)


class OrganizationPublic(OrganizationBase):
    id: int
    created_at: datetime
