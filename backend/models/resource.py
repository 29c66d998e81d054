"""Resources: instruments, pilot lines (made of instruments) and venues.

Capabilities and typed attributes live in their own rows so that every database can
search them with plain indexed SQL (tag equality, numeric ranges).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.domain.catalog import AttributeValue, check_attributes, normalize_tags
from backend.domain.opening_hours import parse_weekly_hours
from backend.models.common import Code, FieldName, Finite, Id, Moment, Name, Scalar
from backend.models.types import UTCDateTime, utcnow

MAX_MAINTENANCE_DAYS = 92
MAX_NOTICE_MINUTES = 366 * 24 * 60
MAX_BOOKING_HOURS = 366 * 24
MAX_GRACE_MINUTES = 7 * 24 * 60


class ResourceKind(StrEnum):
    instrument = "instrument"
    line = "line"
    venue = "venue"


class ResourceStatus(StrEnum):
    active = "active"
    maintenance = "maintenance"
    retired = "retired"


class _ResourceChecks(SQLModel):
    """Validation shared by create and update payloads."""

    @field_validator("opening_hours", check_fields=False)
    @classmethod
    def _hours(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            parse_weekly_hours(value)
        return value

    @field_validator("capabilities", check_fields=False)
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalize_tags(value)

    @field_validator("auto_approve", check_fields=False)
    @classmethod
    def _auto_approve(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            unknown = set(value) - {"enabled", "max_minutes", "qualified_only", "no_hazard"}
            if unknown:
                known = "enabled, max_minutes, qualified_only or no_hazard"
                raise ValueError(f"unknown rule {sorted(unknown)[0]!r}; use {known}")
        return value

    @field_validator("attributes", check_fields=False)
    @classmethod
    def _attributes(cls, value: dict[str, AttributeValue] | None) -> dict[str, AttributeValue] | None:
        return None if value is None else check_attributes(value)


class ResourceBase(SQLModel):
    code: Code = Field(max_length=64, index=True)
    kind: ResourceKind = Field(sa_type=String(20), index=True)
    name: Name = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    device_type: str | None = Field(default=None, max_length=64, description="simulator / driver model")
    opening_hours: dict[str, Any] | None = Field(
        default=None,
        sa_type=JSON,
        description='{"mon": [["08:00","20:00"]], ...}; null = the platform default',
    )
    unattended: bool = Field(default=False, description="may run through closed hours once started")
    status: ResourceStatus = Field(default=ResourceStatus.active, sa_type=String(20))
    min_notice_minutes: int = Field(
        default=60, ge=0, le=MAX_NOTICE_MINUTES, description="SMEs must book this long ahead"
    )
    max_booking_hours: Finite = Field(
        default=168, gt=0, le=MAX_BOOKING_HOURS, description="longest single booking"
    )
    requires_qualification: bool = Field(default=True, description="SME users need a valid qualification")
    no_show_grace_minutes: int = Field(
        default=30, ge=0, le=MAX_GRACE_MINUTES, description="check in within this, or the rest is released"
    )
    auto_approve: dict[str, Any] | None = Field(
        default=None,
        sa_type=JSON,
        description='e.g. {"enabled": true, "max_minutes": 240, "qualified_only": true, "no_hazard": true}',
    )


class Resource(ResourceBase, table=True):
    __table_args__ = (UniqueConstraint("platform_id", "code", name="uq_resource_platform_code"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ResourceCapability(SQLModel, table=True):
    __tablename__ = "resource_capability"

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(64), primary_key=True, index=True))


class ResourceAttribute(SQLModel, table=True):
    __tablename__ = "resource_attribute"

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    name: str = Field(sa_column=Column(String(64), primary_key=True, index=True))
    num_value: float | None = Field(default=None, sa_column=Column(Float, index=True))
    text_value: str | None = Field(default=None, max_length=200)
    value_type: str = Field(max_length=8)  # number | bool | text


class ResourceMember(SQLModel, table=True):
    """A pilot line is made of instruments; booking the line books them together."""

    __tablename__ = "resource_member"

    line_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("resource.id"), primary_key=True))


class ResourceCreate(ResourceBase, _ResourceChecks):
    platform_id: Id
    capabilities: list[str] = PydanticField(default=[], max_length=100)
    attributes: dict[FieldName, Scalar] = PydanticField(default={}, max_length=100)
    members: list[str] = Field(default=[], description="codes of the instruments a line is made of")

    @model_validator(mode="after")
    def _members_only_for_lines(self) -> ResourceCreate:
        if self.members and self.kind != ResourceKind.line:
            raise ValueError("members: only a resource of kind 'line' is made of other resources")
        return self


class ResourceUpdate(_ResourceChecks):
    """What an operator may change; anything else (an unknown name, `code`, `kind`, `platform_id`) is refused
    with 422 rather than dropped, so a caller never believes a change was made that was not."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: Name | None = None
    name_en: str | None = None
    description: str | None = None
    device_type: str | None = None
    opening_hours: dict[str, Any] | None = None
    unattended: bool | None = None
    status: ResourceStatus | None = None
    min_notice_minutes: int | None = Field(default=None, ge=0, le=MAX_NOTICE_MINUTES)
    max_booking_hours: Finite | None = Field(default=None, gt=0, le=MAX_BOOKING_HOURS)
    requires_qualification: bool | None = None
    no_show_grace_minutes: int | None = Field(default=None, ge=0, le=MAX_GRACE_MINUTES)
    auto_approve: dict[str, Any] | None = None
    capabilities: list[str] | None = PydanticField(default=None, max_length=100)
    attributes: dict[FieldName, Scalar] | None = PydanticField(default=None, max_length=100)
    members: list[str] | None = PydanticField(default=None, max_length=100)


class ResourcePublic(ResourceBase):
    id: int
    platform_id: int
    platform_code: str
    capabilities: list[str]
    attributes: dict[str, AttributeValue]
    members: list[str]
    created_at: datetime


class MaintenanceWindowBase(SQLModel):
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindowBase:
        for name in ("start", "end"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name}: give a time zone, e.g. 2026-12-01T08:00:00+08:00")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class MaintenanceWindow(MaintenanceWindowBase, table=True):
    __tablename__ = "maintenance_window"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MaintenanceWindowCreate(MaintenanceWindowBase):
    start: Moment
    end: Moment

    @model_validator(mode="after")
    def _short(self) -> MaintenanceWindowCreate:
        if self.end - self.start > timedelta(days=MAX_MAINTENANCE_DAYS):
            raise ValueError(
                f"end: a maintenance window spans at most {MAX_MAINTENANCE_DAYS} days; "
                "for a longer outage set the resource's status to maintenance"
            )
        return self


class MaintenanceWindowPublic(MaintenanceWindowBase):
    id: int
    resource_id: int
