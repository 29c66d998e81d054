"""Usage sessions: when an instrument was actually in use, measured from its own `state` signal.

`pilotshare ingest` writes them (docs/usage.md): a session opens at the first sample whose `state` counts
as use (setup, running, cleaning) and closes at the first sample that does not, or at the last sample
seen when the instrument goes offline. Each session names the booking it falls in (none = unbooked use)
and that booking's organization, so reports can tell external service hours from the owner's own use.

`usage_cursor` is ingest's bookmark per resource: the device time of the newest state sample it has
processed and the session open now. With it a re-delivered or late sample is recognised as such.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.types import UTCDateTime, utcnow


class UsageSource(StrEnum):
    """What opened the session: a telemetry sample's `state` field, or a status birth's `fields.state`."""

    telemetry = "telemetry"
    status = "status"


class ClosedBy(StrEnum):
    """Why a session ended; `offline` and `late` ends are the last sample seen and may still grow."""

    state = "state"  # a sample with a state that is not use: ended_at is that sample's time
    offline = "offline"  # the agent's Last Will: ended_at is the last in-use sample seen
    late = "late"  # rebuilt from late (out-of-order) samples: ended_at is the last one seen


class UsageSession(SQLModel, table=True):
    __tablename__ = "usage_session"
    __table_args__ = (
        # One session per resource and start: a replayed message can never add a second one.
        UniqueConstraint("resource_id", "started_at", name="uq_usage_session_start"),
        Index("ix_usage_session_platform_started", "platform_id", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), nullable=False)
    )
    platform_id: int = Field(foreign_key="platform.id")
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)  # null while open
    last_seen_at: datetime = Field(sa_type=UTCDateTime)  # newest in-use sample of the session
    states: list[str] = Field(
        default_factory=list, sa_type=JSON
    )  # work states seen, e.g. ["setup", "running"]
    source: UsageSource = Field(default=UsageSource.telemetry, sa_type=String(10))
    #: the agents whose samples produced the session (the `agent` of their messages)
    agents: list[str] = Field(default_factory=list, sa_type=JSON)
    closed_by: ClosedBy | None = Field(default=None, sa_type=String(10))
    short: bool = Field(default=False, description="shorter than the minimum session: a flicker, not counted")
    booking_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UsageCursor(SQLModel, table=True):
    """Ingest's bookmark per resource (one row, locked while a batch is merged)."""

    __tablename__ = "usage_cursor"

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    state: str = Field(default="", sa_type=String(16))
    state_ns: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    open_session_id: int | None = Field(default=None, foreign_key="usage_session.id")


# --- API payloads ------------------------------------------------------------------------------


class UsageSessionPublic(BaseModel):
    """A session as stored, plus the part of it inside the period asked for (`start`, `end`, `minutes`)."""

    id: int
    resource_id: int
    resource: str
    platform_id: int
    started_at: datetime
    ended_at: datetime | None
    last_seen_at: datetime
    start: datetime
    end: datetime
    minutes: float
    states: list[str]
    #: the agents whose samples produced the session
    agents: list[str] = []
    source: UsageSource
    closed_by: ClosedBy | None
    short: bool
    booking_id: int | None
    organization_id: int | None


class BookingUsage(BaseModel):
    """Booked vs actual for one booking (minutes; see docs/usage.md for each figure)."""

    booking_id: int
    resource_id: int | None
    organization_id: int | None
    status: str
    start: datetime
    end: datetime
    booked_minutes: float
    used_minutes: float
    utilization: float
    early_start_minutes: float
    late_start_minutes: float | None
    overrun_minutes: float
    unbooked_adjacent_minutes: float
    no_show: bool
    in_progress: bool
    sessions: list[UsageSessionPublic]
