from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from backend.db import AsyncReader, reading
from backend.domain.errors import Invalid
from backend.domain.intervals import Interval
from backend.http.caching import RecentAnswers, Tagged, conditional, tagged
from backend.http.deps import Caller, City, EngineDep, Limit, Offset, SearchText, SessionDep, SettingsDep
from backend.models.common import Day, Id, Moment, Page
from backend.models.rate import RateCardCreate, RateCardPublic, RateCardUpdate
from backend.models.resource import (
    MaintenanceWindowCreate,
    MaintenanceWindowPublic,
    ResourceCreate,
    ResourceKind,
    ResourcePublic,
    ResourceStatus,
    ResourceUpdate,
)
from backend.models.schedule import MaintenanceWindowAdded, ScheduleRepairPublic
from backend.services.catalog import availability as availability_service
from backend.services.catalog import resources as service
from backend.services.money import rates as rate_service
from backend.services.scheduling import repairs

router = APIRouter(prefix="/resources", tags=["resources"])


@router.get("", response_model=Page[ResourcePublic])
def search_resources(
    session: SessionDep,
    platform: Annotated[str | None, Query(description="platform code")] = None,
    city: City = None,
    kind: ResourceKind | None = None,
    status: ResourceStatus | None = None,
    capability: Annotated[list[str], Query(description="tag; repeat to require several")] = [],  # noqa: B006
    attr: Annotated[
        list[str], Query(description="volume_l:10..100, volume_l:10.., volume_l:..100 or grade:D; repeatable")
    ] = [],  # noqa: B006
    q: SearchText = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[ResourcePublic]:
    """Search the public catalog across platforms."""
    rows, count = service.search_resources(
        session,
        platform=platform,
        city=city,
        kind=kind,
        status=status,
        capabilities=capability,
        attributes=attr,
        q=q,
        offset=offset,
        limit=limit,
    )
    return Page(data=service.to_public(session, rows), count=count)


@router.post("", response_model=ResourcePublic, status_code=status.HTTP_201_CREATED)
def create_resource(session: SessionDep, who: Caller, data: ResourceCreate) -> ResourcePublic:
    return service.to_public(session, [service.create_resource(session, who, data)])[0]


@router.get("/{resource_id}", response_model=ResourcePublic)
def get_resource(session: SessionDep, resource_id: Id) -> ResourcePublic:
    return service.to_public(session, [service.get_resource(session, resource_id)])[0]


@router.patch("/{resource_id}", response_model=ResourcePublic)
def update_resource(
    session: SessionDep, who: Caller, resource_id: Id, data: ResourceUpdate
) -> ResourcePublic:
    return service.to_public(session, [service.update_resource(session, who, resource_id, data)])[0]


@router.delete("/{resource_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_resource(session: SessionDep, who: Caller, resource_id: Id) -> None:
    service.delete_resource(session, who, resource_id)


class FreeInterval(BaseModel):
    start: datetime
    end: datetime
    minutes: int


class Availability(BaseModel):
    resource_id: int
    resource: str
    timezone: str
    start: datetime
    end: datetime
    free: list[FreeInterval]


async def recent_availability(request: Request, settings: SettingsDep) -> RecentAnswers:
    """This process's recent availability answers (made with its first query)."""
    state = request.app.state
    answers: RecentAnswers | None = getattr(state, "availability_answers", None)
    if answers is None:
        answers = state.availability_answers = RecentAnswers(settings.availability_cache_seconds)
    return answers


@router.get(
    "/{resource_id}/availability",
    response_model=Availability,
    responses={304: {"description": "unchanged since the `ETag` given in `If-None-Match`"}},
)
async def availability(
    request: Request,
    engine: EngineDep,
    answers: Annotated[RecentAnswers, Depends(recent_availability)],
    resource_id: Id,
    start: Annotated[Moment, Query(alias="from", description="ISO 8601 with zone")],
    end: Annotated[Moment, Query(alias="to", description="ISO 8601 with zone")],
) -> Response:
    """Free intervals in the platform's time zone: opening hours minus maintenance windows and bookings.
    Answers carry an `ETag`; sending it back in `If-None-Match` gives 304 while nothing changed.
    A server process may give an answer again for up to `PILOTSHARE_AVAILABILITY_CACHE_SECONDS` (1 s) while
    it has written nothing since; a booking shows at once in the process that made it."""
    if end <= start:
        raise Invalid("to", "must be after from")
    answer = await answers.answer(
        (resource_id, start, end), lambda: _free_time(request, engine, resource_id, Interval(start, end))
    )
    return conditional(request, answer, cache="public, max-age=0, must-revalidate")


async def _free_time(request: Request, engine: Engine, resource_id: int, window: Interval) -> Tagged:
    """On PostgreSQL an instrument's or venue's answer is read on the event loop (`AsyncReader`); a
    line's, and every answer on SQLite, in a worker thread."""
    reader: AsyncReader | None = getattr(request.app.state, "reader", None)
    if reader is not None:
        free = await availability_service.instrument_availability(reader, resource_id, window)
        if free is not None:
            return tagged(free.as_json())
    return await run_in_threadpool(_free_time_in_thread, engine, resource_id, window)


def _free_time_in_thread(engine: Engine, resource_id: int, window: Interval) -> Tagged:
    with reading(engine) as connection:
        return tagged(availability_service.availability(connection, resource_id, window).as_json())


@router.get("/{resource_id}/maintenance", response_model=list[MaintenanceWindowPublic])
def list_maintenance(session: SessionDep, resource_id: Id) -> list[MaintenanceWindowPublic]:
    return [MaintenanceWindowPublic.model_validate(m) for m in service.list_maintenance(session, resource_id)]


@router.post(
    "/{resource_id}/maintenance", response_model=MaintenanceWindowAdded, status_code=status.HTTP_201_CREATED
)
def add_maintenance(
    engine: EngineDep, who: Caller, resource_id: Id, data: MaintenanceWindowCreate
) -> MaintenanceWindowAdded:
    """Add a maintenance window. When it lies over bookings, they are listed in `affected_bookings` and
    a repair moving them is proposed (`repair`; apply it with `POST /schedule/repairs/{id}/apply`)."""
    window, affected, proposal = repairs.add_maintenance_window(engine, who, resource_id, data)
    repair = None if proposal is None else ScheduleRepairPublic.model_validate(proposal, from_attributes=True)
    return MaintenanceWindowAdded.model_validate(
        window, update={"affected_bookings": affected, "repair": repair}
    )


@router.delete("/{resource_id}/maintenance/{window_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_maintenance(session: SessionDep, who: Caller, resource_id: Id, window_id: Id) -> None:
    service.delete_maintenance(session, who, resource_id, window_id)


@router.get("/{resource_id}/rates", response_model=Page[RateCardPublic])
def list_rates(
    session: SessionDep,
    resource_id: Id,
    on: Annotated[Day | None, Query(description="only rates valid on this day")] = None,
) -> Page[RateCardPublic]:
    """The published fee standard; public, as the programme asks."""
    cards = rate_service.list_rates(session, resource_id, on)
    return Page(data=[RateCardPublic.model_validate(c) for c in cards], count=len(cards))


@router.post("/{resource_id}/rates", response_model=RateCardPublic, status_code=status.HTTP_201_CREATED)
def create_rate(session: SessionDep, who: Caller, resource_id: Id, data: RateCardCreate) -> RateCardPublic:
    return RateCardPublic.model_validate(rate_service.create_rate(session, who, resource_id, data))


@router.patch("/{resource_id}/rates/{rate_id}", response_model=RateCardPublic)
def update_rate(
    session: SessionDep, who: Caller, resource_id: Id, rate_id: Id, data: RateCardUpdate
) -> RateCardPublic:
    return RateCardPublic.model_validate(rate_service.update_rate(session, who, resource_id, rate_id, data))


@router.delete("/{resource_id}/rates/{rate_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rate(session: SessionDep, who: Caller, resource_id: Id, rate_id: Id) -> None:
    rate_service.delete_rate(session, who, resource_id, rate_id)
