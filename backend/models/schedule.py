"""Optimizer runs: what was asked, the exact problem file, and what came out; kept for audit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.common import Id, Moment
from backend.models.resource import MaintenanceWindowPublic
from backend.models.types import UTCDateTime, utcnow


class ScheduleRun(SQLModel, table=True):
    __tablename__ = "schedule_run"

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    created_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    horizon_start: datetime = Field(sa_type=UTCDateTime)
    horizon_end: datetime = Field(sa_type=UTCDateTime)
    time_limit: float
    applied: bool
    status: str = Field(max_length=20)
    objective: float | None = None
    bound: float | None = None
    seconds: float = 0.0
    kpis: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    placed: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    unplaced: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    problem: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class ScheduleRunCreate(BaseModel):
    platform_id: Id
    horizon_start: Moment
    horizon_end: Moment
    time_limit: float = PydanticField(default=10.0, gt=0, le=120, description="seconds the solver may take")
    apply: bool = PydanticField(default=True, description="turn placements into approved bookings")

    @model_validator(mode="after")
    def _window(self) -> ScheduleRunCreate:
        for name in ("horizon_start", "horizon_end"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name}: give a time zone, e.g. 2026-12-01T00:00:00+08:00")
        if self.horizon_end <= self.horizon_start:
            raise ValueError("horizon_end: must be after horizon_start")
        if (self.horizon_end - self.horizon_start).days > 62:
            raise ValueError("horizon_end: plan at most 62 days at a time")
        return self


class ScheduleRunPublic(BaseModel):
    id: int
    platform_id: int
    created_by_id: int
    created_at: datetime
    horizon_start: datetime
    horizon_end: datetime
    time_limit: float
    applied: bool
    status: str
    objective: float | None
    bound: float | None
    seconds: float
    kpis: dict[str, Any]
    placed: list[dict[str, Any]]
    unplaced: list[dict[str, Any]]


class RepairCause(StrEnum):
    maintenance = "maintenance"  # a maintenance window added over bookings
    fault = "fault"  # a resource out of order (ingest: an event or status `fault`)
    urgent = "urgent"  # a request that must be fitted in now (a key project)


class RepairStatus(StrEnum):
    proposed = "proposed"
    applied = "applied"
    dismissed = "dismissed"


class ScheduleRepair(SQLModel, table=True):
    """A repair proposal over stored bookings: which to move where and why; an operator applies or
    dismisses it. Kept with the exact problem for audit, like a run."""

    __tablename__ = "schedule_repair"
    __table_args__ = (UniqueConstraint("fault_id", name="uq_schedule_repair_fault"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    cause: RepairCause = Field(sa_type=String(12))
    resource_id: int | None = Field(default=None, foreign_key="resource.id")
    event_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    event_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    booking_id: int | None = Field(default=None, foreign_key="booking.id")  # the urgent request
    maintenance_window_id: int | None = Field(default=None)
    # the fault episode ingest saw (one proposal per episode, whichever worker or message saw it)
    fault_id: int | None = Field(default=None, foreign_key="resource_fault.id")
    status: RepairStatus = Field(default=RepairStatus.proposed, sa_type=String(10), index=True)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")  # None: the system
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    horizon_start: datetime = Field(sa_type=UTCDateTime)
    horizon_end: datetime = Field(sa_type=UTCDateTime)
    solver_status: str = Field(default="", max_length=20)
    seconds: float = 0.0
    affected: list[int] = Field(default_factory=list, sa_type=JSON)  # bookings the event hits
    moves: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    needs_person: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    kpis: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    problem: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    decision_reason: str | None = Field(default=None, max_length=2000)


class ScheduleRepairCreate(BaseModel):
    """A resource out of service over [start, end) (`fault`, `maintenance`), or an urgent request
    (`urgent`, `booking_id` of a flexible request) to fit in by moving others."""

    model_config = ConfigDict(extra="forbid")

    cause: RepairCause
    resource_id: Id | None = None
    start: Moment | None = None
    end: Moment | None = None
    booking_id: Id | None = None
    horizon_days: int = PydanticField(default=14, ge=1, le=62, description="how far ahead bookings may move")
    time_limit: float = PydanticField(default=5.0, gt=0, le=60, description="seconds the solver may take")
    max_moves: int | None = PydanticField(
        default=None, ge=0, le=10_000, description="prefer at most this many moves"
    )

    @model_validator(mode="after")
    def _event(self) -> ScheduleRepairCreate:
        if self.cause is RepairCause.urgent:
            if self.booking_id is None:
                raise ValueError("booking_id: an urgent repair names the request to fit in")
            return self
        for name in ("resource_id", "start", "end"):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: a {self.cause.value} repair names the resource and its outage")
        assert self.start is not None and self.end is not None
        for name in ("start", "end"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name}: give a time zone, e.g. 2026-12-01T08:00:00+08:00")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class RepairDecision(BaseModel):
    reason: str | None = PydanticField(default=None, max_length=2000)


class ScheduleRepairPublic(BaseModel):
    id: int
    platform_id: int
    cause: RepairCause
    resource_id: int | None
    event_start: datetime | None
    event_end: datetime | None
    booking_id: int | None
    maintenance_window_id: int | None
    fault_id: int | None = None
    status: RepairStatus
    created_by_id: int | None
    created_at: datetime
    horizon_start: datetime
    horizon_end: datetime
    solver_status: str
    seconds: float
    affected: list[int]
    moves: list[dict[str, Any]]
    needs_person: list[dict[str, Any]]
    kpis: dict[str, Any]
    decided_at: datetime | None
    decided_by_id: int | None
    decision_reason: str | None


class MaintenanceWindowAdded(MaintenanceWindowPublic):
    """The window, the bookings it lies over, and the repair proposed to move them (none when none)."""

    affected_bookings: list[int] = Field(default_factory=list)
    repair: ScheduleRepairPublic | None = None
