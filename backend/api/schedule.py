"""Optimizer runs: place a platform's open flexible requests over a horizon, and read past runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from backend.http.deps import Caller, EngineDep, Limit, Offset, SessionDep
from backend.models.common import Page
from backend.models.schedule import ScheduleRunCreate, ScheduleRunPublic
from backend.services.scheduling import runs

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
    session: SessionDep, who: Caller, platform_id: int | None = None, offset: Offset = 0, limit: Limit = 50
) -> Page[ScheduleRunPublic]:
    rows, count = runs.list_runs(session, who, platform_id, offset, limit)
    return Page(data=[ScheduleRunPublic.model_validate(r, from_attributes=True) for r in rows], count=count)


@router.get("/schedule/runs/{run_id}", response_model=ScheduleRunPublic)
def get_schedule_run(session: SessionDep, who: Caller, run_id: int) -> ScheduleRunPublic:
    return ScheduleRunPublic.model_validate(runs.get_run(session, who, run_id), from_attributes=True)


@router.get("/schedule/runs/{run_id}/problem")
def get_schedule_problem(session: SessionDep, who: Caller, run_id: int) -> dict[str, Any]:
    """The exact problem file the run solved: `pilotshare schedule solve` on it reproduces the plan."""
    return runs.get_run(session, who, run_id).problem
