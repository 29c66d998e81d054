"""Threshold alarm rules, what ingest remembers while evaluating them, and faults of resources.

A rule watches one numeric signal of one resource, or of every resource of a device type on its
platform: when the signal stays beyond `limit` for `duration_seconds`, ingest raises an alarm
(`source` rule); when it is back inside (`clear_limit`, or `limit` without hysteresis) ingest clears it.
The judging itself is pure: `backend.domain.alarm_rules`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.domain.alarm_rules import Comparison, Severity, clear_limit_problem
from backend.models.common import CODE_PATTERN, MAX_MAGNITUDE, Code, FieldName, Finite, Id, Name
from backend.models.types import UTCDateTime, utcnow

MAX_DURATION_SECONDS = 7 * 24 * 3600
DeviceType = Annotated[str, StringConstraints(pattern=CODE_PATTERN, max_length=64)]
Limit = Annotated[Finite, PydanticField(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]


class AlarmRule(SQLModel, table=True):
    __tablename__ = "alarm_rule"
    __table_args__ = (UniqueConstraint("platform_id", "code", name="uq_alarm_rule_code"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    resource_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), nullable=True, index=True),
    )
    device_type: str | None = Field(default=None, max_length=64)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    signal: str = Field(max_length=64)
    comparison: str = Field(sa_type=String(2))
    limit: float = Field(sa_column=Column("limit_value", Float, nullable=False))
    clear_limit: float | None = Field(default=None)
    duration_seconds: float = Field(default=0.0)
    severity: str = Field(default="warning", sa_type=String(10))
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AlarmRuleState(SQLModel, table=True):
    """Where a rule stands on one resource: since when its condition holds, the newest device time
    judged, and the alarm it holds open (or the one a person cleared while the condition still held)."""

    __tablename__ = "alarm_rule_state"

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    rule_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alarm_rule.id", ondelete="CASCADE"), primary_key=True)
    )
    breach_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_ns: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    alarm_id: int | None = Field(default=None, foreign_key="alarm.id")


class ResourceFault(SQLModel, table=True):
    """One episode of a resource in state `fault`, from the first fault reading to the first other one.
    `open_resource_id` is the resource's id while the episode is open and null after: the unique index on
    it lets the database keep one open episode per resource, whichever ingest worker sees the fault."""

    __tablename__ = "resource_fault"
    __table_args__ = (UniqueConstraint("open_resource_id", name="uq_resource_fault_open"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    open_resource_id: int | None = Field(default=None)


class _RuleChecks(BaseModel):
    @model_validator(mode="after")
    def _consistent(self) -> _RuleChecks:
        scope = (getattr(self, "resource_id", None), getattr(self, "device_type", None))
        if (scope[0] is None) == (scope[1] is None):
            raise ValueError("resource_id: give either resource_id or device_type, not both or neither")
        comparison, limit = getattr(self, "comparison", None), getattr(self, "limit", None)
        clear = getattr(self, "clear_limit", None)
        if comparison is not None and limit is not None and clear is not None:
            problem = clear_limit_problem(Comparison(comparison), limit, clear)
            if problem:
                raise ValueError(f"clear_limit: {problem}")
        return self


class AlarmRuleCreate(_RuleChecks):
    """A rule on one resource (`resource_id`) or on every resource of a device type (`device_type`)."""

    model_config = ConfigDict(extra="forbid")

    resource_id: Id | None = None
    device_type: DeviceType | None = None
    code: Code = PydanticField(description="the code of the alarms it raises, unique on the platform")
    name: Name | None = PydanticField(default=None, description="what it watches, in words")
    signal: FieldName = PydanticField(description="a numeric signal the devices report")
    comparison: Comparison
    limit: Limit
    clear_limit: Limit | None = PydanticField(
        default=None, description="hysteresis: the alarm clears once the signal is back past this"
    )
    duration_seconds: Annotated[Finite, PydanticField(ge=0, le=MAX_DURATION_SECONDS)] = PydanticField(
        default=0, description="how long the condition must hold before the alarm is raised"
    )
    severity: Severity = Severity.warning
    enabled: bool = True


class AlarmRuleUpdate(BaseModel):
    """Fields to change; the rule is checked again as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    signal: FieldName | None = None
    comparison: Comparison | None = None
    limit: Limit | None = None
    clear_limit: Limit | None = None
    duration_seconds: Annotated[Finite, PydanticField(ge=0, le=MAX_DURATION_SECONDS)] | None = None
    severity: Severity | None = None
    enabled: bool | None = None


class AlarmRulePublic(BaseModel):
    id: int
    platform_id: int
    resource_id: int | None
    device_type: str | None
    code: str
    name: str
    signal: str
    comparison: Comparison
    limit: float
    clear_limit: float | None
    duration_seconds: float
    severity: Severity
    enabled: bool
    created_at: datetime
    updated_at: datetime
