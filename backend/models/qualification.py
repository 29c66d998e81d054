"""Qualifications: a user is trained and may use a resource; granted by an operator, until it expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.common import DB_INT_MAX, Moment
from backend.models.types import UTCDateTime, utcnow


class QualificationBase(SQLModel):
    user_id: int = Field(foreign_key="app_user.id", index=True, ge=1, le=DB_INT_MAX)
    resource_id: int = Field(foreign_key="resource.id", index=True, ge=1, le=DB_INT_MAX)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=500)


class Qualification(QualificationBase, table=True):
    __table_args__ = (UniqueConstraint("user_id", "resource_id", name="uq_qualification_user_resource"),)

    id: int | None = Field(default=None, primary_key=True)
    granted_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class QualificationCreate(QualificationBase):
    expires_at: Moment | None = None


class QualificationUpdate(SQLModel):
    expires_at: Moment | None = None
    note: str | None = Field(default=None, max_length=500)


class QualificationPublic(QualificationBase):
    id: int
    granted_by_id: int | None
    granted_at: datetime
    valid: bool
