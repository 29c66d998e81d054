"""Monthly booking quotas: hours an organization may book on a platform (overrides the platform default)."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.common import Finite, Id
from backend.models.platform import MAX_QUOTA_HOURS


class Quota(SQLModel, table=True):
    """Hours per calendar month an organization may book on a platform (overrides the platform default)."""

    __table_args__ = (UniqueConstraint("platform_id", "organization_id", name="uq_quota_platform_org"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id")
    organization_id: int = Field(foreign_key="organization.id")
    hours_per_month: float | None = Field(default=None, ge=0)


class QuotaSet(BaseModel):
    organization_id: Id
    hours_per_month: Finite | None = PydanticField(ge=0, le=MAX_QUOTA_HOURS)
