"""Platform webhooks: the subscriber table and its API payloads."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from backend.domain.notifications import SUBJECTS
from backend.models.types import UTCDateTime, utcnow


class Webhook(SQLModel, table=True):
    """A platform's subscriber URL for booking events; payloads are signed with its secret (HMAC-SHA256)."""

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=200)
    events: list[str] | None = Field(default=None, sa_type=JSON)  # None = every event
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookCreate(BaseModel):
    url: str = PydanticField(max_length=500, description="http(s) URL that receives a signed POST per event")
    events: list[str] | None = PydanticField(
        default=None, description="event names to send, e.g. booking.approved; omitted = every event"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("give an http:// or https:// URL with a host")
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = sorted(set(value) - set(SUBJECTS))
        if unknown:
            raise ValueError(f"unknown events {', '.join(unknown)}; known: {', '.join(sorted(SUBJECTS))}")
        if not value:
            raise ValueError("name at least one event, or omit `events` for every event")
        return sorted(set(value))


class WebhookPublic(BaseModel):
    id: int
    platform_id: int
    url: str
    events: list[str] | None
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = PydanticField(
        description="HMAC-SHA256 key of `X-PilotShare-Signature`; shown only now, keep it safe"
    )
