"""Optimizer runs: what was asked, the exact problem file, and what came out; kept for audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

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
    platform_id: int
    horizon_start: datetime
    horizon_end: datetime
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
