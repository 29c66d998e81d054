"""Usage sessions measured from the instruments, and booked vs actual per booking (docs/usage.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from backend.http.deps import Caller, Limit, Offset, SessionDep
from backend.models.common import Id, Moment, Page
from backend.models.types import utcnow
from backend.models.usage import BookingUsage, UsageSessionPublic
from backend.services.telemetry import usage_reading as service

router = APIRouter(tags=["usage"])

DEFAULT_DAYS = 30


@router.get("/usage-sessions", response_model=Page[UsageSessionPublic])
def list_usage_sessions(
    session: SessionDep,
    who: Caller,
    from_: Annotated[Moment | None, Query(alias="from", description="default: 30 days before `to`")] = None,
    to: Annotated[Moment | None, Query(description="default: now")] = None,
    platform_id: Id | None = None,
    platform: Annotated[str | None, Query(max_length=64, description="platform code")] = None,
    resource_id: Id | None = None,
    organization_id: Id | None = None,
    booked: Annotated[bool | None, Query(description="true: in a booking; false: unbooked use")] = None,
    include_short: Annotated[bool, Query(description="also flickers shorter than the minimum")] = False,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[UsageSessionPublic]:
    """Actual use measured from the instruments' `state` signal, clipped to `[from, to)`, oldest first.
    Operators see their platform's, SMEs their organization's booked sessions, admins and auditors all."""
    end = to or utcnow()
    start = from_ or end - timedelta(days=DEFAULT_DAYS)
    rows, count = service.list_sessions(
        session,
        who,
        service.SessionFilter(start, end, platform_id, resource_id, organization_id, booked, include_short),
        offset,
        limit,
        platform_code=platform,
    )
    return Page(data=rows, count=count)


@router.get("/bookings/{booking_id}/usage", response_model=BookingUsage)
def booking_usage(session: SessionDep, who: Caller, booking_id: Id) -> BookingUsage:
    """Booked vs actual: minutes booked and used, early/late start, overrun, unbooked use next to it,
    no-show. Whoever may see the booking may see this."""
    return service.usage_of_booking(session, who, booking_id)
