"""API payloads of platform webhooks (the `Webhook` table lives with the bookings it reports)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from backend.services.notifications import SUBJECTS


class WebhookCreate(BaseModel):
    url: str = Field(max_length=500, description="http(s) URL that receives a signed POST per event")
    events: list[str] | None = Field(
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
    secret: str = Field(
        description="HMAC-SHA256 key of `X-PilotShare-Signature`; shown only now, keep it safe"
    )
