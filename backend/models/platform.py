from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from pydantic import field_validator
from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from backend.domain.opening_hours import parse_weekly_hours
from backend.models.common import DB_INT_MAX, Code, Finite, Id, Name
from backend.models.types import UTCDateTime, utcnow

MAX_SLA_HOURS = 30 * 24
"""A platform that takes more than a month to decide on a request is not sharing its equipment."""
MAX_NOTICE_HOURS = 366 * 24
MAX_QUOTA_HOURS = 100_000
MAX_FAULT_OUTAGE_HOURS = 14 * 24
"""Hours an organization may book per month on a platform, summed over its resources (744 per resource)."""


def _known_zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Asia/Shanghai)")
    return value


class PlatformBase(SQLModel):
    code: Code = Field(max_length=64, unique=True, index=True)
    name: Name = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    city: Name = Field(max_length=100, index=True)
    city_en: str | None = Field(default=None, max_length=100)
    industry: Name = Field(max_length=200)
    industry_en: str | None = Field(default=None, max_length=200)
    zone: str | None = Field(default=None, max_length=200, description="industrial park or development zone")
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    owner_org_id: int | None = Field(default=None, foreign_key="organization.id", ge=1, le=DB_INT_MAX)
    description: str | None = Field(default=None, max_length=4000)
    published: bool = True
    opening_hours: dict[str, Any] | None = Field(
        default=None, sa_type=JSON, description="default weekly hours of its resources; null = always open"
    )
    sla_hours: Finite = Field(
        default=24, gt=0, le=MAX_SLA_HOURS, description="time to decide on an ordinary request"
    )
    green_sla_hours: Finite = Field(
        default=4, gt=0, le=MAX_SLA_HOURS, description="time to decide on a key project (green channel)"
    )
    cancellation_free_hours: Finite = Field(
        default=24, ge=0, le=MAX_NOTICE_HOURS, description="free cancellation up to this before start"
    )
    cancellation_fee_percent: Finite = Field(
        default=50, ge=0, le=100, description="share of the price charged later"
    )
    default_quota_hours: Finite | None = Field(
        default=None, ge=0, le=MAX_QUOTA_HOURS, description="hours per org per month; null = none"
    )
    check_in_early_minutes: int = Field(default=30, ge=0, le=24 * 60)
    fault_outage_hours: Finite = Field(
        default=4,
        gt=0,
        le=MAX_FAULT_OUTAGE_HOURS,
        description="a resource that goes to fault is taken as out of service this long (repair proposals)",
    )
    auto_apply_repairs_up_to_moves: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="a fault's repair moving at most this many bookings is applied at once; 0 = never",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            parse_weekly_hours(value)
        return value


class Platform(PlatformBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PlatformCreate(PlatformBase):
    pass


class PlatformUpdate(SQLModel):
    name: Name | None = None
    name_en: str | None = None
    city: Name | None = None
    city_en: str | None = None
    industry: Name | None = None
    industry_en: str | None = None
    zone: str | None = None
    timezone: str | None = None
    owner_org_id: Id | None = None
    description: str | None = Field(default=None, max_length=4000)
    published: bool | None = None
    opening_hours: dict[str, Any] | None = None
    sla_hours: Finite | None = Field(default=None, gt=0, le=MAX_SLA_HOURS)
    green_sla_hours: Finite | None = Field(default=None, gt=0, le=MAX_SLA_HOURS)
    cancellation_free_hours: Finite | None = Field(default=None, ge=0, le=MAX_NOTICE_HOURS)
    cancellation_fee_percent: Finite | None = Field(default=None, ge=0, le=100)
    default_quota_hours: Finite | None = Field(default=None, ge=0, le=MAX_QUOTA_HOURS)
    check_in_early_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    fault_outage_hours: Finite | None = Field(default=None, gt=0, le=MAX_FAULT_OUTAGE_HOURS)
    auto_apply_repairs_up_to_moves: int | None = Field(default=None, ge=0, le=1000)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _known_zone(value)

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            parse_weekly_hours(value)
        return value


class PlatformPublic(PlatformBase):
    id: int
    created_at: datetime
