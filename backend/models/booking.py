"""Bookings of resources and their history.

A booking of a pilot line is one row for the line plus one child row per instrument it is made of,
written in one transaction. PostgreSQL refuses overlapping slot-holding rows on one resource with an
exclusion constraint (migration 0002); on SQLite the booking write transaction takes the database's
write lock before it checks (BEGIN IMMEDIATE), so check and insert are one step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, ColumnElement, Numeric, String, literal_column
from sqlmodel import Field, SQLModel, col

from backend.domain.bookings import BookingStatus
from backend.models.common import Id, Moment
from backend.models.rate import UserClass
from backend.models.types import UTCDateTime, utcnow

MAX_FLEXIBLE_WINDOW_DAYS = 31
"""A flexible request waits for the optimizer, which plans at most a couple of months ahead."""


class BookingKind(StrEnum):
    fixed = "fixed"
    flexible = "flexible"


class Booking(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    resource_id: int | None = Field(default=None, foreign_key="resource.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    series_id: str | None = Field(default=None, max_length=32, index=True)
    kind: BookingKind = Field(default=BookingKind.fixed, sa_type=String(10))
    status: BookingStatus = Field(default=BookingStatus.requested, sa_type=String(12), index=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    user_class: UserClass = Field(default=UserClass.external_sme, sa_type=String(20))

    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    booked_ends_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime
    )  # before a no-show released the rest

    duration_minutes: int | None = None
    window_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    candidates: list[str] | None = Field(default=None, sa_type=JSON)
    capability: str | None = Field(default=None, max_length=64)

    purpose: str = Field(max_length=2000)
    project_name: str | None = Field(default=None, max_length=200)
    sample_description: str | None = Field(default=None, max_length=2000)
    hazardous: bool = False
    hazard_details: str | None = Field(default=None, max_length=2000)

    key_project: bool = False
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sla_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    decision_reason: str | None = Field(default=None, max_length=2000)
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancellation_fee: Decimal | None = Field(default=None, sa_type=Numeric(12, 2))
    estimated_price: Decimal | None = Field(default=None, sa_type=Numeric(12, 2))
    source: str = Field(default="api", max_length=16)  # api | series | waitlist | scheduler


def status_in(statuses: Iterable[BookingStatus]) -> ColumnElement[bool]:
    """`booking.status IN ('approved', ...)` with the statuses written into the statement, not bound as an
    expanding parameter: the cached compiled statement is then complete, and no execution has to render
    the list again (these are the code's own constants, never input)."""
    values = sorted(BookingStatus(s).value for s in statuses)
    assert all(v.isidentifier() for v in values)
    return col(Booking.status).in_([literal_column(f"'{v}'") for v in values])


class BookingEvent(SQLModel, table=True):
    """Who moved a booking, when, from what to what, and why."""

    __tablename__ = "booking_event"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=20)
    from_status: str | None = Field(default=None, max_length=12)
    to_status: str = Field(max_length=12)
    reason: str | None = Field(default=None, max_length=2000)


# --- API payloads ------------------------------------------------------------------------------


class Declaration(BaseModel):
    purpose: str = PydanticField(min_length=1, max_length=2000)
    project_name: str | None = PydanticField(default=None, max_length=200)
    sample_description: str | None = PydanticField(default=None, max_length=2000)
    hazardous: bool = False
    hazard_details: str | None = PydanticField(default=None, max_length=2000)

    @model_validator(mode="after")
    def _hazard_explained(self) -> Declaration:
        if self.hazardous and not self.hazard_details:
            raise ValueError("hazard_details: describe the hazard (substances, quantities, precautions)")
        return self


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name}: give a time zone, e.g. 2026-12-01T08:00:00+08:00")


class BookingCreate(Declaration):
    """A fixed slot (`resource_id`, `start`, `end`) or a flexible request (`duration_minutes`,
    `window_start`, `window_end`, and `candidates` or `capability`)."""

    resource_id: Id | None = None
    start: Moment | None = None
    end: Moment | None = None
    duration_minutes: int | None = PydanticField(default=None, gt=0, le=MAX_FLEXIBLE_WINDOW_DAYS * 24 * 60)
    window_start: Moment | None = None
    window_end: Moment | None = None
    candidates: list[Id] | None = PydanticField(
        default=None, max_length=100, description="resource ids; any one will do"
    )
    capability: str | None = PydanticField(default=None, max_length=64)
    platform_id: Id | None = PydanticField(default=None, description="for a flexible request by capability")
    waitlist: bool = PydanticField(
        default=False, description="if the slot is taken, wait for it instead of 409"
    )

    @model_validator(mode="after")
    def _one_shape(self) -> BookingCreate:
        for name in ("start", "end", "window_start", "window_end"):
            _aware(name, getattr(self, name))
        fixed = self.start is not None or self.end is not None or self.resource_id is not None
        flexible = (
            self.duration_minutes is not None or self.window_start is not None or self.window_end is not None
        )
        if fixed and flexible and self.start is not None:
            raise ValueError(
                "start: give either a fixed slot (resource_id, start, end) or a flexible request"
            )
        if self.start is not None or self.end is not None:
            if self.resource_id is None:
                raise ValueError("resource_id: a fixed slot names its resource")
            if self.start is None or self.end is None:
                raise ValueError(f"{'end' if self.start else 'start'}: a fixed slot needs both start and end")
            if self.end <= self.start:
                raise ValueError("end: must be after start")
            return self
        if self.duration_minutes is None:
            raise ValueError(
                "duration_minutes: give a fixed slot (resource_id, start, end) or a flexible request"
            )
        if self.window_start is None or self.window_end is None:
            raise ValueError("window_start: a flexible request needs window_start and window_end")
        if self.window_end <= self.window_start:
            raise ValueError("window_end: must be after window_start")
        if self.window_end - self.window_start > timedelta(days=MAX_FLEXIBLE_WINDOW_DAYS):
            raise ValueError(f"window_end: a flexible window spans at most {MAX_FLEXIBLE_WINDOW_DAYS} days")
        if (self.window_end - self.window_start).total_seconds() < self.duration_minutes * 60:
            raise ValueError("duration_minutes: longer than the window")
        if not self.candidates and not self.capability and self.resource_id is None:
            raise ValueError("candidates: name candidate resources or a capability")
        return self

    @property
    def is_fixed(self) -> bool:
        return self.start is not None


class SeriesCreate(Declaration):
    resource_id: Id
    start: Moment
    end: Moment
    recurrence: str = PydanticField(
        description="RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8 (at most 200 occurrences, one year)",
        max_length=500,
    )

    @model_validator(mode="after")
    def _times(self) -> SeriesCreate:
        _aware("start", self.start)
        _aware("end", self.end)
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class Decision(BaseModel):
    reason: str | None = PydanticField(default=None, max_length=2000)


class BookingPublic(BaseModel):
    id: int
    platform_id: int
    resource_id: int | None
    resource: str | None = None
    parent_id: int | None
    series_id: str | None
    kind: BookingKind
    status: BookingStatus
    organization_id: int | None
    user_id: int
    user_class: UserClass
    start: datetime | None
    end: datetime | None
    duration_minutes: int | None
    window_start: datetime | None
    window_end: datetime | None
    candidates: list[str] | None
    capability: str | None
    purpose: str
    project_name: str | None
    sample_description: str | None
    hazardous: bool
    hazard_details: str | None
    key_project: bool
    requested_at: datetime
    sla_due_at: datetime | None
    decided_at: datetime | None
    decision_reason: str | None
    response_minutes: float | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    cancelled_at: datetime | None
    cancellation_fee: Decimal | None
    estimated_price: Decimal | None
    members: list[int] = []
    source: str


class BookingEventPublic(BaseModel):
    at: datetime
    actor_id: int | None
    action: str
    from_status: str | None
    to_status: str
    reason: str | None


class SeriesResult(BaseModel):
    series_id: str
    created: list[BookingPublic]
    conflicts: list[dict[str, Any]]
