"""iCalendar feeds for calendar clients (Outlook, Google, Apple, Thunderbird subscribe by URL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel

from backend.http.deps import CurrentUser, SessionDep, SettingsDep
from backend.models.common import Id
from backend.services.accounts.security import create_feed_token, feed_reader
from backend.services.bookings import calendars as service

router = APIRouter(tags=["calendars"])

ICS = "text/calendar; charset=utf-8"
_ICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {}}, "description": "an RFC 5545 calendar"}
}


def _ics(body: bytes, filename: str, cache: str) -> Response:
    return Response(
        body,
        media_type=ICS,
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": cache},
    )


@router.get("/calendars/resources/{resource_id}.ics", response_class=Response, responses=_ICS_RESPONSE)
def resource_calendar(session: SessionDep, resource_id: Id) -> Response:
    """Public busy calendar of a resource: booked slots and maintenance windows, without who or why."""
    return _ics(
        service.resource_feed(session, resource_id), f"resource-{resource_id}.ics", "public, max-age=60"
    )


@router.get(
    "/calendars/me.ics",
    response_class=Response,
    responses={**_ICS_RESPONSE, 401: {"description": "bad or expired feed token, or account disabled"}},
)
def my_calendar(session: SessionDep, settings: SettingsDep, token: str) -> Response:
    """Personal feed: your organization's bookings (SME) or your platform's (operator). `token` is the feed
    token from `GET /me/calendar-url`; an access token does not work here."""
    who = feed_reader(session, settings, token)
    if who is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid or expired calendar token, or account disabled"
        )
    return _ics(service.personal_feed(session, who), "pilotshare.ics", "private, max-age=300")


class CalendarUrl(BaseModel):
    url: str
    webcal: str
    expires_in_days: int


@router.get("/me/calendar-url", response_model=CalendarUrl)
def my_calendar_url(request: Request, settings: SettingsDep, user: CurrentUser) -> CalendarUrl:
    """A private URL to subscribe to in a calendar client. Anyone holding it can read the feed (only
    the feed) until it expires, the user's password changes or the account is deactivated; changing
    PILOTSHARE_SECRET_KEY revokes every such URL."""
    token = create_feed_token(settings, user)
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    url = f"{base}/api/v1/calendars/me.ics?token={token}"
    return CalendarUrl(
        url=url,
        webcal="webcal://" + url.split("://", 1)[1],
        expires_in_days=int(timedelta(days=settings.calendar_token_days).days),
    )
