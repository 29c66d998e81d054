from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from backend.domain.bookings import BookingStatus
from backend.http.deps import Caller, Limit, Offset, SessionDep, Writer
from backend.models.booking import (
    BookingCreate,
    BookingEventPublic,
    BookingKind,
    BookingPublic,
    Decision,
    SeriesCreate,
    SeriesResult,
)
from backend.models.common import Id, Moment, Page
from backend.models.waitlist import WaitlistEntry, WaitlistPublic
from backend.services.bookings import lifecycle, queries, series, waitlist
from backend.services.bookings.presentation import to_public

router = APIRouter(tags=["bookings"])


def waitlist_public(entry: WaitlistEntry) -> WaitlistPublic:
    return WaitlistPublic(
        **entry.model_dump(exclude={"starts_at", "ends_at"}, warnings=False),
        start=entry.starts_at,
        end=entry.ends_at,
    )


@router.post(
    "/bookings",
    response_model=BookingPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        202: {"model": WaitlistPublic, "description": "slot taken; waiting for it (`waitlist: true`)"},
        409: {"description": "the slot overlaps another booking; `conflict` gives its interval"},
    },
)
def create_booking(write: Writer, who: Caller, data: BookingCreate) -> BookingPublic | JSONResponse:
    """Book a fixed slot, or file a flexible request for the optimizer. A taken slot answers 409 with the
    conflicting interval, or, with `waitlist: true`, 202 and a place on the waitlist."""
    with write() as session:
        outcome = waitlist.request_or_wait(session, who, data)
        if isinstance(outcome, WaitlistEntry):
            entry = waitlist_public(outcome)
            return JSONResponse(entry.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
        return to_public(session, [outcome])[0]


@router.post("/bookings/series", response_model=SeriesResult, status_code=status.HTTP_201_CREATED)
def create_series(write: Writer, who: Caller, data: SeriesCreate) -> SeriesResult:
    """Recurring booking: every occurrence is checked on its own; the ones that cannot be booked are
    listed in `conflicts` with the reason, the others are booked."""
    with write() as session:
        series_id, created, conflicts = series.book_series(session, who, data)
        return SeriesResult(series_id=series_id, created=to_public(session, created), conflicts=conflicts)


@router.get("/bookings", response_model=Page[BookingPublic])
def list_bookings(
    session: SessionDep,
    who: Caller,
    platform_id: Id | None = None,
    resource_id: Id | None = None,
    booking_status: Annotated[list[BookingStatus], Query(alias="status")] = [],  # noqa: B006
    organization_id: Id | None = None,
    kind: BookingKind | None = None,
    start: Annotated[Moment | None, Query(alias="from")] = None,
    end: Annotated[Moment | None, Query(alias="to")] = None,
    key_project: bool | None = None,
    overdue: Annotated[bool, Query(description="checked in but past the booked end")] = False,
    mine: Annotated[bool, Query(description="only bookings I made")] = False,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[BookingPublic]:
    """Bookings the caller may see: SMEs their organization's, operators their platform's."""
    rows, count = queries.list_bookings(
        session,
        who,
        platform_id=platform_id,
        resource_id=resource_id,
        status=booking_status,
        organization_id=organization_id,
        kind=kind,
        start=start,
        end=end,
        key_project=key_project,
        overdue=overdue,
        mine=mine,
        offset=offset,
        limit=limit,
    )
    return Page(data=to_public(session, rows), count=count)


@router.get("/bookings/queue", response_model=Page[BookingPublic])
def approval_queue(session: SessionDep, who: Caller, platform_id: Id | None = None) -> Page[BookingPublic]:
    """Requests awaiting a decision: green channel (key projects) first, then by SLA deadline."""
    rows = queries.approval_queue(session, who, platform_id)
    return Page(data=to_public(session, rows), count=len(rows))


@router.get("/bookings/{booking_id}", response_model=BookingPublic)
def get_booking(session: SessionDep, who: Caller, booking_id: Id) -> BookingPublic:
    return to_public(session, [queries.get_booking(session, who, booking_id)])[0]


@router.get("/bookings/{booking_id}/events", response_model=list[BookingEventPublic])
def booking_events(session: SessionDep, who: Caller, booking_id: Id) -> list[BookingEventPublic]:
    """Every transition: who, when, from what to what, and why."""
    return [
        BookingEventPublic.model_validate(e, from_attributes=True)
        for e in queries.history(session, who, booking_id)
    ]


def _reason(decision: Decision | None) -> str | None:
    return decision.reason if decision else None


@router.post("/bookings/{booking_id}/approve", response_model=BookingPublic)
def approve_booking(
    write: Writer, who: Caller, booking_id: Id, decision: Decision | None = None
) -> BookingPublic:
    """Approve a request (operator of its platform or admin)."""
    with write() as session:
        return to_public(session, [lifecycle.approve(session, who, booking_id, _reason(decision))])[0]


@router.post("/bookings/{booking_id}/reject", response_model=BookingPublic)
def reject_booking(
    write: Writer, who: Caller, booking_id: Id, decision: Decision | None = None
) -> BookingPublic:
    """Reject a request with a reason the SME sees (operator of its platform or admin)."""
    with write() as session:
        return to_public(session, [lifecycle.reject(session, who, booking_id, _reason(decision))])[0]


@router.post("/bookings/{booking_id}/cancel", response_model=BookingPublic)
def cancel_booking(
    write: Writer, who: Caller, booking_id: Id, decision: Decision | None = None
) -> BookingPublic:
    """Cancel a booking: its requester, or the platform with a reason; late cancellations carry a fee."""
    with write() as session:
        return to_public(session, [lifecycle.cancel(session, who, booking_id, _reason(decision))])[0]


@router.post("/bookings/{booking_id}/check-in", response_model=BookingPublic)
def check_in_booking(
    write: Writer, who: Caller, booking_id: Id, decision: Decision | None = None
) -> BookingPublic:
    """Check in at the start of an approved booking."""
    with write() as session:
        return to_public(session, [lifecycle.check_in(session, who, booking_id, _reason(decision))])[0]


@router.post("/bookings/{booking_id}/check-out", response_model=BookingPublic)
def check_out_booking(
    write: Writer, who: Caller, booking_id: Id, decision: Decision | None = None
) -> BookingPublic:
    """Check out at the end of the run: the booking is completed."""
    with write() as session:
        return to_public(session, [lifecycle.check_out(session, who, booking_id, _reason(decision))])[0]


class KeyProject(BaseModel):
    key_project: bool = True
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/bookings/{booking_id}/key-project", response_model=BookingPublic)
def key_project(write: Writer, who: Caller, booking_id: Id, data: KeyProject) -> BookingPublic:
    """Green channel: an operator or admin flags (or unflags) a request as a key project."""
    with write() as session:
        booking = lifecycle.set_key_project(session, who, booking_id, data.key_project, data.reason)
        return to_public(session, [booking])[0]


@router.get("/waitlist", response_model=list[WaitlistPublic])
def list_waitlist(session: SessionDep, who: Caller, resource_id: Id | None = None) -> list[WaitlistPublic]:
    return [waitlist_public(e) for e in waitlist.list_entries(session, who, resource_id)]


@router.delete("/waitlist/{entry_id}", response_model=WaitlistPublic)
def leave_waitlist(write: Writer, who: Caller, entry_id: Id) -> WaitlistPublic:
    with write() as session:
        return waitlist_public(waitlist.leave(session, who, entry_id))
