"""The waitlist: requests waiting for a taken slot, booked automatically when it frees up."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from backend.models.types import UTCDateTime, utcnow


class WaitlistStatus(StrEnum):
    waiting = "waiting"
    booked = "booked"
    offered = "offered"
    cancelled = "cancelled"
    expired = "expired"


class WaitlistEntry(SQLModel, table=True):
    __tablename__ = "waitlist_entry"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    user_id: int = Field(foreign_key="app_user.id")
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    purpose: str = Field(max_length=2000)
    auto_book: bool = True
    status: WaitlistStatus = Field(default=WaitlistStatus.waiting, sa_type=String(10), index=True)
    booking_id: int | None = Field(default=None, foreign_key="booking.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WaitlistPublic(BaseModel):
    id: int
    resource_id: int
    user_id: int
    organization_id: int | None
    start: datetime
    end: datetime
    status: WaitlistStatus
    booking_id: int | None
    auto_book: bool
