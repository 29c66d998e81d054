"""What ingest refused, held back or found missing (backend/domain/telemetry_checks.py, docs/ingest.md).

- `telemetry_refusal`: samples refused (stamped in the future) or quarantined (inside a settled month),
  counted per resource, reason and hour of the samples' device time: the sharing report states them for
  its period and /metrics shows the totals;
- `quarantined_telemetry`: the quarantined samples themselves, one row per message, for an operator to
  review;
- `telemetry_sequence`: per agent and resource, which message numbers (`seq`) arrived, so the messages
  that never did are counted (`missing`);
- `ingest_gauge`: the broker's own drop counter as ingest last read it from `$SYS`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.domain.telemetry_checks import QuarantineDecision
from backend.models.types import UTCDateTime, utcnow


class TelemetryRefusal(SQLModel, table=True):
    __tablename__ = "telemetry_refusal"
    __table_args__ = (UniqueConstraint("resource_id", "reason", "hour", name="uq_telemetry_refusal_hour"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), nullable=False)
    )
    platform_id: int = Field(foreign_key="platform.id", index=True)
    reason: str = Field(max_length=16)  # "future" | "settled"
    hour: datetime = Field(sa_type=UTCDateTime, index=True)  # the samples' device time, to the hour
    samples: int = Field(default=0, sa_type=BigInteger)
    messages: int = Field(default=0, sa_type=BigInteger)


class QuarantinedTelemetry(SQLModel, table=True):
    __tablename__ = "quarantined_telemetry"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), nullable=False)
    )
    platform_id: int = Field(foreign_key="platform.id", index=True)
    agent: str = Field(max_length=128)
    reason: str = Field(max_length=16)
    first_at: datetime = Field(sa_type=UTCDateTime)
    last_at: datetime = Field(sa_type=UTCDateTime)
    samples: list[Any] = Field(default_factory=list, sa_type=JSON)  # [[epoch ns, {field: value}], ...]
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    reviewed_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    decision: str | None = Field(default=None, max_length=16)  # QuarantineDecision
    review_note: str | None = Field(default=None, max_length=2000)


class QuarantinedPublic(BaseModel):
    """One quarantined message: whose samples, when they were stamped, why they were held back."""

    id: int
    platform_id: int
    resource_id: int
    resource: str
    agent: str
    reason: str
    first_at: datetime
    last_at: datetime
    samples: int
    fields: list[str]
    received_at: datetime
    reviewed_at: datetime | None
    reviewed_by_id: int | None
    decision: QuarantineDecision | None
    review_note: str | None


class QuarantineReview(BaseModel):
    decision: QuarantineDecision
    note: str | None = PydanticField(default=None, max_length=2000)


class TelemetrySequence(SQLModel, table=True):
    __tablename__ = "telemetry_sequence"

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    agent: str = Field(max_length=128, primary_key=True)
    ranges: list[list[int]] = Field(default_factory=list, sa_type=JSON)
    missing: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IngestGauge(SQLModel, table=True):
    __tablename__ = "ingest_gauge"

    name: str = Field(max_length=64, primary_key=True)
    value: float = 0.0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
