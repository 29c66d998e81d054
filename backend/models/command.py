"""The command outbox: each lock, unlock or setpoint for an instrument, from the change that wanted it to the
device's acknowledgement (the states: `backend.domain.commands`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from backend.models.types import UTCDateTime, utcnow


class DeviceCommand(SQLModel, table=True):
    """One command; its `id` is the MQTT `id` the device acknowledges."""

    __tablename__ = "device_command"
    __table_args__ = (Index("ix_device_command_open", "state", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=40)
    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    action: str = Field(sa_type=String(10))
    args: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # on whose authority the device is told (exactly one of the two)
    booking_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")  # None: the system
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    state: str = Field(default="pending", sa_type=String(10))
    attempts: int = 0
    last_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, max_length=2000)


class OnBehalfOf(BaseModel):
    booking: int | None = None
    user: int | None = None


class CommandPublic(BaseModel):
    id: str
    resource_id: int
    action: str
    args: dict[str, Any]
    on_behalf_of: OnBehalfOf
    created_by_id: int | None
    created_at: datetime
    expires_at: datetime
    state: str
    attempts: int
    last_sent_at: datetime | None
    acked_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, command: DeviceCommand) -> CommandPublic:
        return cls(
            **command.model_dump(exclude={"booking_id", "user_id", "next_attempt_at"}),
            on_behalf_of=OnBehalfOf(booking=command.booking_id, user=command.user_id),
        )
