"""Digital twins, run data and alarms of resources; a server-sent event stream of twin changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from backend.domain.alarms import AlarmAction, AlarmState
from backend.domain.commands import CommandState
from backend.http.deps import (
    Caller,
    CurrentUser,
    EngineDep,
    InfluxDep,
    Limit,
    Offset,
    SessionDep,
    SettingsDep,
    Writer,
    still_holding,
)
from backend.models.command import CommandPublic
from backend.models.common import Id, Moment, Page
from backend.models.twin import AlarmDecision, AlarmPublic, DesiredUpdate, TelemetrySeries, TwinPublic
from backend.models.types import utcnow
from backend.services.devices import commands
from backend.services.telemetry import alarms
from backend.services.telemetry import series as telemetry_service
from backend.services.telemetry import twins as service

router = APIRouter(tags=["twins"])


@router.get("/resources/{resource_id}/twin", response_model=TwinPublic)
def get_twin(resource_id: Id, session: SessionDep, who: Caller) -> TwinPublic:
    """Staff of the platform, admins and auditors; an SME while its own booking of the resource runs."""
    return service.get_twin(session, who, resource_id)


@router.patch("/resources/{resource_id}/twin/desired", response_model=TwinPublic)
def set_desired(
    resource_id: Id, body: DesiredUpdate, write: Writer, who: Caller, settings: SettingsDep
) -> TwinPublic:
    """Operator of the platform or admin. A null value removes the field from `desired`.

    Each changed field becomes a command to the device (docs/commands.md): a setpoint, or for
    `interlock` a lock (true) or unlock (false). A setpoint the device does not declare, or outside its
    declared limits or the resource's `{name}_min`/`{name}_max` attributes, is refused with 422."""
    ttl = timedelta(seconds=settings.commands_ttl_seconds)
    with write() as session:
        return service.set_desired(session, who, resource_id, body.desired, ttl)


@router.get("/resources/{resource_id}/commands", response_model=Page[CommandPublic])
def list_commands(
    resource_id: Id,
    session: SessionDep,
    who: Caller,
    offset: Offset = 0,
    limit: Limit = 100,
    state: Annotated[
        CommandState | None, Query(description="pending, sent, applied, refused or expired")
    ] = None,
) -> Page[CommandPublic]:
    """Commands sent to the resource's device and what became of them, newest first (operators of its
    platform, auditors, administrators)."""
    rows, count = commands.list_commands(session, who, resource_id, offset, limit, state)
    return Page(data=rows, count=count)


@router.get("/commands/{command_id}", response_model=CommandPublic)
def get_command(
    session: SessionDep,
    who: Caller,
    command_id: Annotated[
        str, Path(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_.:-]+$", description="the MQTT `id`")
    ],
) -> CommandPublic:
    """One command sent to a device and what became of it (operators of its resource's platform, auditors,
    administrators): for a client that issued it through `PATCH /resources/{id}/twin/desired`."""
    return commands.get_command(session, who, command_id)


@router.get(
    "/resources/{resource_id}/telemetry",
    response_model=TelemetrySeries,
    responses={503: {"description": "the telemetry store (InfluxDB) is unreachable or refused the query"}},
)
def get_telemetry(
    resource_id: Id,
    session: SessionDep,
    influx: InfluxDep,
    who: Caller,
    field: Annotated[str, Query(min_length=1, max_length=64, description="signal name")],
    from_: Annotated[Moment | None, Query(alias="from", description="default: an hour before `to`")] = None,
    to: Annotated[Moment | None, Query(description="default: now")] = None,
    every: Annotated[str | None, Query(description="average per interval, e.g. 10s, 1m, 1h")] = None,
) -> TelemetrySeries:
    """Raw samples, or means per `every`. An SME gets only the parts inside its own bookings."""
    return telemetry_service.read_series(session, influx, who, resource_id, field, from_, to, every)


@router.get("/alarms", response_model=Page[AlarmPublic])
def list_alarms(
    session: SessionDep,
    who: Caller,
    offset: Offset = 0,
    limit: Limit = 100,
    resource_id: Id | None = None,
    from_: Annotated[Moment | None, Query(alias="from")] = None,
    to: Moment | None = None,
    state: Annotated[AlarmState | None, Query(description="active, acknowledged or cleared")] = None,
) -> Page[AlarmPublic]:
    """Alarms and faults the instruments reported, newest first (staff and auditors)."""
    rows, count = service.list_alarms(session, who, resource_id, from_, to, offset, limit, state)
    return Page(data=rows, count=count)


@router.post("/alarms/{alarm_id}/ack", response_model=AlarmPublic)
def acknowledge_alarm(
    write: Writer, who: Caller, alarm_id: Id, decision: AlarmDecision | None = None
) -> AlarmPublic:
    """Someone is on it: an active alarm becomes acknowledged, with who and when (operator of the
    platform or admin). 409 when it is not active."""
    with write() as session:
        return alarms.decide(session, who, alarm_id, AlarmAction.ack, decision.note if decision else None)


@router.post("/alarms/{alarm_id}/clear", response_model=AlarmPublic)
def clear_alarm(
    write: Writer, who: Caller, alarm_id: Id, decision: AlarmDecision | None = None
) -> AlarmPublic:
    """The condition is over: an active or acknowledged alarm is cleared, with who and when."""
    with write() as session:
        return alarms.decide(session, who, alarm_id, AlarmAction.clear, decision.note if decision else None)


def _event(twin: TwinPublic) -> str:
    return f"event: twin\nid: {twin.resource_id}:{twin.version}\ndata: {twin.model_dump_json()}\n\n"


@router.get(
    "/stream/twins",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream_twins(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    poll_seconds: Annotated[float, Query(ge=0.2, le=30)] = 1.0,
    max_seconds: Annotated[float, Query(gt=0, le=3600, description="then the stream ends; reconnect")] = 600,
) -> StreamingResponse:
    """Server-sent events, one `twin` event (the whole twin as JSON) per change the caller may see.

    Every replica polls the database for twins whose version changed, so any replica serves any
    client and nothing lives in one process. Each poll checks the caller again: once its token has
    ended (password changed, account deactivated) the stream sends `event: end` and closes.
    """

    async def events() -> AsyncIterator[str]:
        sent: dict[int, int] = {}
        since = utcnow()
        ends = time.monotonic() + max_seconds
        last_beat = time.monotonic()
        yield ": twins stream\n\n"
        while time.monotonic() < ends and not await request.is_disconnected():
            polled_at = utcnow()
            who = await run_in_threadpool(still_holding, engine, user)
            if who is None:
                yield 'event: end\ndata: {"reason": "session ended"}\n\n'
                return
            # Overlap the windows a little: a transaction may commit an older updated_at late.
            changed = await run_in_threadpool(
                service.changed_twins, engine, who, since - timedelta(seconds=5), sent
            )
            for twin in changed:
                yield _event(twin)
            since = polled_at
            if len(sent) > 10_000:
                sent.clear()
            if time.monotonic() - last_beat > 15:
                yield ": keep-alive\n\n"
                last_beat = time.monotonic()
            await asyncio.sleep(poll_seconds)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
