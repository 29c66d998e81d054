"""Optimizer runs: place a platform's open flexible requests over a horizon, and read past runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool

from backend.http.deps import Caller, EngineDep, Limit, Offset, SessionDep, Writer
from backend.models.common import Id, Page
from backend.models.schedule import (
    RepairCause,
    RepairDecision,
    RepairStatus,
    ScheduleRepairCreate,
    ScheduleRepairPublic,
    ScheduleRunCreate,
    ScheduleRunPublic,
)
from backend.services.scheduling import repairs, runs

router = APIRouter(tags=["schedule"])


@router.post("/schedule/runs", response_model=ScheduleRunPublic, status_code=status.HTTP_201_CREATED)
async def create_schedule_run(engine: EngineDep, who: Caller, data: ScheduleRunCreate) -> ScheduleRunPublic:
    """Optimize a platform's open flexible requests over a horizon (operator or admin). Placements become
    approved bookings in one transaction unless `apply` is false; unplaced requests come with a reason.
    The solver runs off the event loop and holds no database connection while it works."""
    run = await run_in_threadpool(runs.run_schedule, engine, who, data)
    return ScheduleRunPublic.model_validate(run, from_attributes=True)


@router.get("/schedule/runs", response_model=Page[ScheduleRunPublic])
def list_schedule_runs(
    session: SessionDep, who: Caller, platform_id: Id | None = None, offset: Offset = 0, limit: Limit = 50
) -> Page[ScheduleRunPublic]:
    rows, count = runs.list_runs(session, who, platform_id, offset, limit)
    return Page(data=[ScheduleRunPublic.model_validate(r, from_attributes=True) for r in rows], count=count)


@router.get("/schedule/runs/{run_id}", response_model=ScheduleRunPublic)
def get_schedule_run(session: SessionDep, who: Caller, run_id: Id) -> ScheduleRunPublic:
    return ScheduleRunPublic.model_validate(runs.get_run(session, who, run_id), from_attributes=True)


@router.get("/schedule/runs/{run_id}/problem")
def get_schedule_problem(session: SessionDep, who: Caller, run_id: Id) -> dict[str, Any]:
    """The exact problem file the run solved: `pilotshare schedule solve` on it reproduces the plan."""
    return runs.get_run(session, who, run_id).problem


def repair_public(proposal: object) -> ScheduleRepairPublic:
    return ScheduleRepairPublic.model_validate(proposal, from_attributes=True)


@router.post("/schedule/repairs", response_model=ScheduleRepairPublic, status_code=status.HTTP_201_CREATED)
async def create_schedule_repair(
    engine: EngineDep, who: Caller, data: ScheduleRepairCreate
) -> ScheduleRepairPublic:
    """Propose a repair (operator of the platform or admin): a resource out of service over [start,
    end) (`fault`, `maintenance`), or an urgent flexible request (`urgent`, `booking_id`) to fit in. The
    answer lists the moves, each with its reason, and the bookings a person has to handle; nothing
    moves until the repair is applied."""
    event: repairs.Event
    if data.cause is RepairCause.urgent:
        assert data.booking_id is not None
        event = repairs.Urgent(data.booking_id)
    else:
        assert data.resource_id is not None and data.start is not None and data.end is not None
        event = repairs.Outage(data.resource_id, data.start, data.end, data.cause)
    proposal = await run_in_threadpool(
        repairs.propose,
        engine,
        who,
        event,
        horizon_days=data.horizon_days,
        time_limit=data.time_limit,
        max_moves=data.max_moves,
    )
    return repair_public(proposal)


@router.get("/schedule/repairs", response_model=Page[ScheduleRepairPublic])
def list_schedule_repairs(
    session: SessionDep,
    who: Caller,
    platform_id: Id | None = None,
    repair_status: Annotated[RepairStatus | None, Query(alias="status")] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[ScheduleRepairPublic]:
    rows, count = repairs.list_repairs(session, who, platform_id, repair_status, offset, limit)
    return Page(data=[repair_public(r) for r in rows], count=count)


@router.get("/schedule/repairs/{repair_id}", response_model=ScheduleRepairPublic)
def get_schedule_repair(session: SessionDep, who: Caller, repair_id: Id) -> ScheduleRepairPublic:
    return repair_public(repairs.get_repair(session, who, repair_id))


@router.post("/schedule/repairs/{repair_id}/apply", response_model=ScheduleRepairPublic)
def apply_schedule_repair(
    write: Writer, who: Caller, repair_id: Id, decision: RepairDecision | None = None
) -> ScheduleRepairPublic:
    """Move the bookings as proposed, all or nothing, each new slot judged again as of now; the SMEs
    are told their new time. A booking changed since the proposal makes it stale: 409, propose again."""
    with write() as session:
        return repair_public(repairs.apply(session, who, repair_id, decision.reason if decision else None))


@router.post("/schedule/repairs/{repair_id}/dismiss", response_model=ScheduleRepairPublic)
def dismiss_schedule_repair(
    write: Writer, who: Caller, repair_id: Id, decision: RepairDecision | None = None
) -> ScheduleRepairPublic:
    with write() as session:
        return repair_public(repairs.dismiss(session, who, repair_id, decision.reason if decision else None))
