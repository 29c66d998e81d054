"""The plan: a Gantt chart of the platform's resources over a day, a week or a month (bookings by status,
maintenance windows, closed hours), the optimizer run over the open requests as a proposal to review
(placed and unplaced, each with its reason, drawn on the chart), and its confirmation."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from backend.domain.access import Principal
from backend.domain.errors import DomainError, Invalid
from backend.domain.intervals import Interval
from backend.http.deps import EngineDep, PageCaller, SessionDep, Writer
from backend.i18n import pick
from backend.models.common import Id
from backend.models.platform import Platform
from backend.models.schedule import RepairCause, RepairStatus, ScheduleRepair, ScheduleRun, ScheduleRunCreate
from backend.services.bookings import queries
from backend.services.bookings.presentation import to_public
from backend.services.catalog import platforms, resources
from backend.services.scheduling import board, repairs, runs
from backend.web.catalog import _local as local  # the booking form's reading of datetime-local
from backend.web.common import form_errors, render, validation_errors
from backend.web.operator import check_csrf, chosen_platform, need_staff
from backend.web.words import shown as word

router = APIRouter(include_in_schema=False)

View = Literal["day", "week", "month"]
#: What a bar on the chart can be (its colour in static/plan.js and app.css's legend).
KINDS = (*board.SHOWN, "maintenance", "closed", "proposed")


def window_of(view: View, day: date, zone: ZoneInfo) -> Interval:
    """The day, the week (from Monday) or the month around `day`, midnight to midnight in the zone."""
    if view == "day":
        first, last = day, day + timedelta(days=1)
    elif view == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    return Interval(datetime.combine(first, time(), zone), datetime.combine(last, time(), zone))


def _step(view: View, day: date, forward: bool) -> date:
    if view == "month":
        first = day.replace(day=1)
        return (
            (first + timedelta(days=32)).replace(day=1)
            if forward
            else (first - timedelta(days=1)).replace(day=1)
        )
    days = 1 if view == "day" else 7
    return day + timedelta(days=days if forward else -days)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


#: A bar as static/plan.js reads it: row, start and end in minutes from the window's start, kind, label,
#: booking id (0: none), green channel (0/1). Arrays, not objects: a month of 60 resources is thousands.
Bar = tuple[int, int, int, str, str, int, int]


def _bar(
    window: Interval,
    row: int,
    start: datetime,
    end: datetime,
    kind: str,
    label: str,
    booking: int | None,
    key: bool,
) -> Bar:
    def minutes(moment: datetime) -> int:
        return int((min(max(moment, window.start), window.end) - window.start).total_seconds() // 60)

    return (row, minutes(start), minutes(end), kind, label, booking or 0, int(key))


def chart_data(
    shown: board.Board, proposal: ScheduleRun | None, repair: ScheduleRepair | None = None
) -> dict[str, Any]:
    """What static/plan.js draws: one row per resource and its bars (see `Bar`)."""
    window = shown.window
    rows = {r.id: i for i, r in enumerate(shown.resources)}
    bars = [
        _bar(window, rows[b.resource_id], b.start, b.end, b.kind, b.label, b.booking_id, b.key_project)
        for b in shown.bars
        if b.resource_id in rows
    ]
    codes = {r.code: i for i, r in enumerate(shown.resources)}
    if proposal is not None and not proposal.applied:
        for p in proposal.placed:
            start, end = datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])
            if p["resource"] in codes and start < window.end and end > window.start:
                bars.append(
                    _bar(
                        window,
                        codes[p["resource"]],
                        start,
                        end,
                        "proposed",
                        f"#{p['booking_id']}",
                        p["booking_id"],
                        False,
                    )
                )
    if repair is not None and repair.status == RepairStatus.proposed:
        for m in repair.moves:
            to = m["to"]
            start, end = datetime.fromisoformat(to["start"]), datetime.fromisoformat(to["end"])
            if to["resource"] in codes and start < window.end and end > window.start:
                label = f"#{m['booking_id']}"
                bars.append(
                    _bar(window, codes[to["resource"]], start, end, "proposed", label, m["booking_id"], False)
                )
    return {
        "start": _ms(window.start),
        "end": _ms(window.end),
        "offset_minutes": int((window.start.utcoffset() or timedelta()).total_seconds() // 60),
        "rows": [r.code for r in shown.resources],
        "bars": bars,
    }


@router.get("/operator/plan")
def plan(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    view: View = "week",
    day: date | None = None,
    run: int | None = None,
    repair: int | None = None,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    notice: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    caller = need_staff(request, who)
    context = _context(session, caller, chosen_platform(session, caller, platform), view, day, run, repair)
    return render(request, who, "operator/plan.html", {**context, "notice": notice})


def _context(
    session: SessionDep,
    who: Principal,
    chosen: Platform,
    view: View,
    day: date | None,
    run: int | None,
    repair_id: int | None = None,
) -> dict[str, Any]:
    zone = ZoneInfo(chosen.timezone)
    proposal = runs.get_run(session, who, run) if run is not None else None
    repair = repairs.get_repair(session, who, repair_id) if repair_id is not None else None
    if day is None:
        shown_from = proposal.horizon_start if proposal else (repair.event_start if repair else None)
        day = (shown_from or datetime.now(zone)).astimezone(zone).date()
    shown = board.board(session, who, chosen, window_of(view, day, zone))
    waiting, _ = repairs.list_repairs(session, who, chosen.id, RepairStatus.proposed, 0, 10)
    today = datetime.now(zone).date()
    first = proposal.horizon_start.astimezone(zone).date() if proposal else today
    last = (
        (proposal.horizon_end.astimezone(zone) - timedelta(days=1)).date()
        if proposal
        else today + timedelta(13)
    )
    return {
        **_review(session, who, proposal),
        "platform": chosen,
        "zone": chosen.timezone,
        "view": view,
        "day": day,
        "previous": _step(view, day, False),
        "next": _step(view, day, True),
        "chart": json.dumps(chart_data(shown, proposal, repair), separators=(",", ":")),
        "repair": repair,
        "repairs_waiting": waiting,
        "resource_names": {r.id: (r.code, pick(r.name, r.name_en)) for r in shown.resources},
        "resource_count": len(shown.resources),
        "names": json.dumps({kind: word(kind) for kind in KINDS}, ensure_ascii=False),
        "form": {"horizon_start": str(first), "horizon_end": str(last), "time_limit": "10"},
        "errors": {},
    }


def _review(session: SessionDep, who: Principal, proposal: ScheduleRun | None) -> dict[str, Any]:
    """The proposal's placements and refusals with the requests they concern."""
    if proposal is None:
        return {"proposal": None, "requests": {}}
    ids = [p["booking_id"] for p in proposal.placed] + [u["booking_id"] for u in proposal.unplaced]
    found = []
    for booking_id in ids:
        try:
            found.append(queries.get_booking(session, who, booking_id))
        except DomainError:
            continue
    return {"proposal": proposal, "requests": {b.id: b for b in to_public(session, found)}}


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(field, "give a date as YYYY-MM-DD") from None


@router.post("/operator/plan/runs")
def run_optimizer(
    request: Request,
    engine: EngineDep,
    session: SessionDep,
    who: PageCaller,
    horizon_start: Annotated[str, Form(max_length=10)] = "",
    horizon_end: Annotated[str, Form(max_length=10)] = "",
    time_limit: Annotated[float, Form(gt=0, le=120)] = 10,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """A proposal, never applied here: the operator reviews it on the chart, then confirms it. The solver
    runs in this worker thread and holds no database connection while it works."""
    caller = need_staff(request, who)
    chosen = chosen_platform(session, caller, None)
    zone = ZoneInfo(chosen.timezone)
    form = {"horizon_start": horizon_start, "horizon_end": horizon_end, "time_limit": str(time_limit)}
    try:
        check_csrf(request, csrf_token)
        first, last = _day(horizon_start, "horizon_start"), _day(horizon_end, "horizon_end")
        data = ScheduleRunCreate(
            platform_id=chosen.id or 0,
            horizon_start=datetime.combine(first, time(), zone),
            horizon_end=datetime.combine(last + timedelta(days=1), time(), zone),
            time_limit=time_limit,
            apply=False,
        )
        session.close()  # the solver may take its time; hold no connection meanwhile
        made = runs.run_schedule(engine, caller, data)
    except (DomainError, ValidationError) as exc:
        errors = validation_errors(exc) if isinstance(exc, ValidationError) else form_errors(exc)
        context = {**_context(session, caller, chosen, "week", None, None), "form": form, "errors": errors}
        return render(request, who, "operator/plan.html", context, status_code=422)
    return RedirectResponse(f"/operator/plan?run={made.id}&view=week&day={first}", status_code=303)


@router.post("/operator/plan/runs/{run_id}/confirm")
def confirm(
    request: Request,
    write: Writer,
    who: PageCaller,
    run_id: int,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """The reviewed proposal becomes approved bookings; the page shows what was placed and what not."""
    caller = need_staff(request, who)
    target = f"/operator/plan?run={run_id}"
    try:
        check_csrf(request, csrf_token)
        with write() as session:
            runs.confirm_run(session, caller, run_id)
    except DomainError as exc:
        return RedirectResponse(f"{target}&{urlencode({'notice': exc.message})}", status_code=303)
    return RedirectResponse(f"{target}&notice=confirmed", status_code=303)


@router.post("/operator/plan/repairs/{repair_id}/{decision}")
def decide_repair(
    request: Request,
    write: Writer,
    who: PageCaller,
    repair_id: int,
    decision: Literal["apply", "dismiss"],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Move the bookings as proposed (all or nothing), or set the proposal aside."""
    caller = need_staff(request, who)
    target = f"/operator/plan?repair={repair_id}"
    try:
        check_csrf(request, csrf_token)
        with write() as session:
            if decision == "apply":
                repairs.apply(session, caller, repair_id, reason or None)
            else:
                repairs.dismiss(session, caller, repair_id, reason or None)
    except DomainError as exc:
        return RedirectResponse(f"{target}&{urlencode({'notice': exc.message})}", status_code=303)
    return RedirectResponse(f"{target}&notice=repair-{decision}", status_code=303)


@router.post("/operator/plan/faults")
def report_fault(
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    who: PageCaller,
    resource_id: Annotated[Id, Form()],
    start: Annotated[str, Form(max_length=40)],
    end: Annotated[str, Form(max_length=40)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """A resource out of order over [start, end): the repair proposes moving the bookings it hits, and
    the page shows the proposal for review (the same use case as POST /api/v1/schedule/repairs)."""
    caller = need_staff(request, who)
    try:
        check_csrf(request, csrf_token)
        zone = ZoneInfo(
            platforms.get_platform(session, resources.get_resource(session, resource_id).platform_id).timezone
        )
        outage = repairs.Outage(
            resource_id, local(start, zone, "start"), local(end, zone, "end"), RepairCause.fault
        )
        session.close()  # the solver may take seconds; hold no connection meanwhile
        proposal = repairs.propose(engine, caller, outage)
    except DomainError as exc:
        return RedirectResponse(f"/operator/plan?{urlencode({'notice': exc.message})}", status_code=303)
    return RedirectResponse(f"/operator/plan?repair={proposal.id}", status_code=303)
