"""Digital twins and alarms: what ingest learned from each instrument's MQTT messages.

A twin is one row per resource: the last reported value of each signal (with the device's timestamp),
what an operator wants (desired), and whether the edge agent is connected. `version` grows by one on
every change, so readers (the SSE stream, other API replicas) find changes by comparing versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.command import CommandPublic
from backend.models.common import FieldName, Scalar
from backend.models.types import UTCDateTime, utcnow

ConnectionState = Literal["online", "offline", "unknown"]


class Twin(SQLModel, table=True):
    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    reported: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # {field: {"value", "ts"}}
    desired: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # {field: value}
    connection_state: str = Field(default="unknown", sa_type=String(10))
    connection_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    agent: str | None = Field(default=None, max_length=128)
    version: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Alarm(SQLModel, table=True):
    """An `event` of kind alarm or fault (`source` device), or a threshold rule's alarm (`source` rule).
    The same event delivered twice is stored once; `open_key` (a rule's alarm while it is not cleared)
    keeps one open alarm per resource and rule, whichever ingest worker raised it."""

    __table_args__ = (
        UniqueConstraint("resource_id", "ts", "kind", "code", name="uq_alarm_event"),
        UniqueConstraint("resource_id", "open_key", name="uq_alarm_open"),
    )

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    ts: datetime = Field(sa_type=UTCDateTime, index=True)
    kind: str = Field(sa_type=String(10))
    code: str = Field(max_length=64)
    severity: str = Field(sa_type=String(10))
    message: str = Field(default="", max_length=2000)
    agent: str | None = Field(default=None, max_length=128)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The lifecycle (backend/domain/alarms.py): active -> acknowledged -> cleared, with who and when.
    state: str = Field(default="active", sa_type=String(12), index=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    cleared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cleared_by_id: int | None = Field(default=None, foreign_key="app_user.id")  # None: the system
    note: str | None = Field(default=None, max_length=2000)
    booking_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    source: str = Field(default="device", sa_type=String(10))  # device | rule
    rule_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("alarm_rule.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    open_key: str | None = Field(default=None, max_length=80)  # "rule:{id}" until cleared


class Reading(BaseModel):
    value: bool | int | float | str
    ts: datetime


class Connection(BaseModel):
    state: ConnectionState
    since: datetime | None


class TwinPublic(BaseModel):
    resource_id: int
    resource_code: str
    platform_code: str
    reported: dict[str, Reading]
    desired: dict[str, Any]
    delta: dict[str, Any]
    connection: Connection
    version: int
    updated_at: datetime | None
    commands: list[CommandPublic] = PydanticField(
        default_factory=list,
        description="the latest commands sent for this twin (newest first): pending, sent, applied, refused"
        " or expired, with the device's reason; all of them: GET /resources/{id}/commands",
    )


class DesiredUpdate(BaseModel):
    """Fields to set; a null value removes that field from desired."""

    desired: dict[FieldName, Scalar | None]


class AlarmPublic(BaseModel):
    id: int
    resource_id: int
    ts: datetime
    kind: str
    code: str
    severity: str
    message: str
    agent: str | None
    received_at: datetime
    state: str
    acknowledged_at: datetime | None
    acknowledged_by_id: int | None
    cleared_at: datetime | None
    cleared_by_id: int | None
    note: str | None
    booking_id: int | None
    source: str = "device"
    rule_id: int | None = None


class AlarmDecision(BaseModel):
    note: str | None = PydanticField(default=None, max_length=2000)


class TelemetryPoint(BaseModel):
    time: datetime
    value: bool | int | float | str | None


class TelemetrySeries(BaseModel):
    resource_id: int
    field: str
    every: str | None
    points: list[TelemetryPoint]
