from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from backend.api.deps import Caller, EngineDep, Limit, Offset, SessionDep, Writer
from backend.domain.bookings import Action, BookingStatus
from backend.domain.errors import Conflict
from backend.models.booking import (
    BookingCreate,
    BookingEventPublic,
    BookingKind,
    BookingPublic,
    Decision,
    SeriesCreate,
    SeriesResult,
    WaitlistEntry,
    WaitlistPublic,
)
from backend.models.common import Page
from backend.models.schedule import ScheduleRunCreate, ScheduleRunPublic
from backend.services import bookings as service
from backend.services import scheduling
from backend.services import series as series_service
from backend.services import waitlist as waitlist_service

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
    try:
        with write() as session:
            return service.to_public(session, [service.request_booking(session, who, data)])[0]
    except Conflict:
        if not data.waitlist:
            raise
    with write() as session:
        entry = waitlist_public(waitlist_service.join(session, who, data))
    return JSONResponse(entry.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


@router.post("/bookings/series", response_model=SeriesResult, status_code=status.HTTP_201_CREATED)
def create_series(write: Writer, who: Caller, data: SeriesCreate) -> SeriesResult:
    """Recurring booking: every occurrence is checked on its own; the ones that cannot be booked are
    listed in `conflicts` with the reason, the others are booked."""
    with write() as session:
        series_id, created, conflicts = series_service.book_series(session, who, data)
        return SeriesResult(
            series_id=series_id, created=service.to_public(session, created), conflicts=conflicts
        )


@router.get("/bookings", response_model=Page[BookingPublic])
def list_bookings(
    session: SessionDep,
    who: Caller,
    platform_id: int | None = None,
    resource_id: int | None = None,
    booking_status: Annotated[list[BookingStatus], Query(alias="status")] = [],  # noqa: B006
    organization_id: int | None = None,
    kind: BookingKind | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    key_project: bool | None = None,
    overdue: Annotated[bool, Query(description="checked in but past the booked end")] = False,
    mine: Annotated[bool, Query(description="only bookings I made")] = False,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[BookingPublic]:
    """Bookings the caller may see: SMEs their organization's, operators their platform's."""
    rows, count = service.list_bookings(
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
    return Page(data=service.to_public(session, rows), count=count)


@router.get("/bookings/queue", response_model=Page[BookingPublic])
def approval_queue(session: SessionDep, who: Caller, platform_id: int | None = None) -> Page[BookingPublic]:
    """Requests awaiting a decision: green channel (key projects) first, then by SLA deadline."""
    rows = service.approval_queue(session, who, platform_id)
    return Page(data=service.to_public(session, rows), count=len(rows))


@router.get("/bookings/{booking_id}", response_model=BookingPublic)
def get_booking(session: SessionDep, who: Caller, booking_id: int) -> BookingPublic:
    return service.to_public(session, [service.get_booking(session, who, booking_id)])[0]


@router.get("/bookings/{booking_id}/events", response_model=list[BookingEventPublic])
def booking_events(session: SessionDep, who: Caller, booking_id: int) -> list[BookingEventPublic]:
    """Every transition: who, when, from what to what, and why."""
    return [
        BookingEventPublic.model_validate(e, from_attributes=True)
        for e in service.history(session, who, booking_id)
    ]


def _transition(action: Action):  # type: ignore[no-untyped-def]
    def handler(
        write: Writer, who: Caller, booking_id: int, decision: Decision | None = None
    ) -> BookingPublic:
        reason = decision.reason if decision else None
        with write() as session:
            return service.to_public(session, [service.transition(session, who, booking_id, action, reason)])[
                0
            ]

    handler.__name__ = f"booking_{action.name}"
    return handler


for _action in (Action.approve, Action.reject, Action.cancel, Action.check_in, Action.check_out):
    router.add_api_route(
        f"/bookings/{{booking_id}}/{_action.value}",
        _transition(_action),
        methods=["POST"],
        response_model=BookingPublic,
        summary=f"{_action.value.replace('-', ' ').capitalize()} a booking",
    )


class KeyProject(BaseModel):
    key_project: bool = True
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/bookings/{booking_id}/key-project", response_model=BookingPublic)
def key_project(write: Writer, who: Caller, booking_id: int, data: KeyProject) -> BookingPublic:
    """Green channel: an operator or admin flags (or unflags) a request as a key project."""
    with write() as session:
        booking = service.set_key_project(session, who, booking_id, data.key_project, data.reason)
        return service.to_public(session, [booking])[0]


@router.get("/waitlist", response_model=list[WaitlistPublic])
def list_waitlist(session: SessionDep, who: Caller, resource_id: int | None = None) -> list[WaitlistPublic]:
    return [waitlist_public(e) for e in waitlist_service.list_entries(session, who, resource_id)]


@router.delete("/waitlist/{entry_id}", response_model=WaitlistPublic)
def leave_waitlist(write: Writer, who: Caller, entry_id: int) -> WaitlistPublic:
    with write() as session:
        return waitlist_public(waitlist_service.leave(session, who, entry_id))


@router.post("/schedule/runs", response_model=ScheduleRunPublic, status_code=status.HTTP_201_CREATED)
async def create_schedule_run(engine: EngineDep, who: Caller, data: ScheduleRunCreate) -> ScheduleRunPublic:
    """Optimize a platform's open flexible requests over a horizon (operator or admin). Placements become
    approved bookings in one transaction unless `apply` is false; unplaced requests come with a reason.
    The solver runs off the event loop and holds no database connection while it works."""
    run = await run_in_threadpool(scheduling.run_schedule, engine, who, data)
    return ScheduleRunPublic.model_validate(run, from_attributes=True)


@router.get("/schedule/runs", response_model=Page[ScheduleRunPublic])
def list_schedule_runs(
    session: SessionDep, who: Caller, platform_id: int | None = None, offset: Offset = 0, limit: Limit = 50
) -> Page[ScheduleRunPublic]:
    rows, count = scheduling.list_runs(session, who, platform_id, offset, limit)
    return Page(data=[ScheduleRunPublic.model_validate(r, from_attributes=True) for r in rows], count=count)


@router.get("/schedule/runs/{run_id}", response_model=ScheduleRunPublic)
def get_schedule_run(session: SessionDep, who: Caller, run_id: int) -> ScheduleRunPublic:
    return ScheduleRunPublic.model_validate(scheduling.get_run(session, who, run_id), from_attributes=True)


@router.get("/schedule/runs/{run_id}/problem")
def get_schedule_problem(session: SessionDep, who: Caller, run_id: int) -> dict[str, Any]:
    """The exact problem file the run solved: `pilotshare schedule solve` on it reproduces the plan."""
    return scheduling.get_run(session, who, run_id).problem
