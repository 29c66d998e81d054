"""An SME's own pages: its bookings (cancel, waitlist, calendar link), one booking with its run data,
and its invoices with the voucher share deducted."""

from __future__ import annotations

import csv
import io
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from backend.domain.errors import DomainError
from backend.http.deps import InfluxDep, PageCaller, SessionDep, SettingsDep, Writer
from backend.models.user import User
from backend.services.accounts.security import create_feed_token
from backend.services.bookings import lifecycle, queries, waitlist
from backend.services.bookings.presentation import to_public
from backend.services.catalog import platforms
from backend.services.money import invoices
from backend.services.telemetry import series, usage_reading
from backend.web.common import check_form_csrf, form_errors, need_login, render

router = APIRouter(include_in_schema=False)


@router.get("/me/bookings")
def my_bookings(
    request: Request, session: SessionDep, settings: SettingsDep, who: PageCaller, notice: str | None = None
) -> Response:
    caller = need_login(request, who)
    rows, count = queries.list_bookings(session, caller, offset=0, limit=200)
    rows = sorted(rows, key=lambda b: b.starts_at or b.requested_at, reverse=True)
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    me = session.get(User, caller.user_id)
    assert me is not None  # the session's user, checked on this request
    context = {
        "bookings": to_public(session, rows),
        "count": count,
        "fees": lifecycle.cancellation_fees(session, caller, rows),
        "waiting": waitlist.list_entries(session, caller, None),
        "calendar_url": f"{base}/api/v1/calendars/me.ics?token={create_feed_token(settings, me)}",
        "notice": notice,
    }
    return render(request, who, "bookings/mine.html", context)


@router.post("/bookings/{booking_id}/cancel")
def cancel(
    request: Request,
    write: Writer,
    who: PageCaller,
    booking_id: int,
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    caller = need_login(request, who)
    try:
        check_form_csrf(request, csrf_token)
        with write() as session:
            lifecycle.cancel(session, caller, booking_id, reason or None)
    except DomainError as exc:
        message = next(iter(form_errors(exc).values()))
        return RedirectResponse(f"/me/bookings?notice={message}", status_code=303)
    return RedirectResponse("/me/bookings?notice=cancelled", status_code=303)


@router.get("/bookings/{booking_id}")
def booking_page(
    request: Request, session: SessionDep, influx: InfluxDep, who: PageCaller, booking_id: int
) -> Response:
    """The booking's timeline, booked against measured use, and its run data as charts."""
    caller = need_login(request, who)
    booking = queries.get_booking(session, caller, booking_id)
    zone = ZoneInfo(platforms.get_platform(session, booking.platform_id).timezone)
    try:
        run_data, run_problem = series.booking_run_data(session, influx, caller, booking_id), None
    except DomainError as exc:
        run_data, run_problem = [], exc.message
    context = {
        "booking": to_public(session, [booking])[0],
        "events": queries.history(session, caller, booking_id),
        "usage": usage_reading.usage_of_booking(session, caller, booking_id),
        "run_data": [
            {
                "resource": r.resource,
                "every": r.every,
                "times": [t.astimezone(zone).isoformat() for t in r.times],
                "signals": {k: v for k, v in r.signals.items() if any(x is not None for x in v)},
            }
            for r in run_data
        ],
        "run_problem": run_problem,
    }
    return render(request, who, "bookings/detail.html", context)


@router.get("/bookings/{booking_id}/run-data.csv")
def run_data_csv(
    request: Request, session: SessionDep, influx: InfluxDep, who: PageCaller, booking_id: int
) -> Response:
    """The charts' figures: one row per instrument and interval, one column per signal."""
    caller = need_login(request, who)
    data = series.booking_run_data(session, influx, caller, booking_id)
    names = sorted({name for run in data for name in run.signals})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["resource", "time", *names])
    for run in data:
        for i, moment in enumerate(run.times):
            writer.writerow(
                [run.resource, moment.isoformat(), *(_cell(run.signals.get(n), i) for n in names)]
            )
    headers = {"Content-Disposition": f'attachment; filename="booking-{booking_id}-run-data.csv"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _cell(values: list[float | None] | None, i: int) -> str:
    value = values[i] if values is not None and i < len(values) else None
    return "" if value is None else f"{value:.6g}"


@router.get("/me/invoices")
def my_invoices(request: Request, session: SessionDep, who: PageCaller) -> Response:
    caller = need_login(request, who)
    rows, _ = invoices.list_invoices(session, caller, None, None, None, None, 0, 200)
    shown = [invoices.to_public(session, i) for i in rows]
    # An issued line keeps its description as the record; the page names the item in the reader's words
    billed = queries.bookings_by_id(session, caller, [line.booking_id for i in shown for line in i.lines])
    context = {"invoices": shown, "billed": {b.id: b for b in to_public(session, list(billed.values()))}}
    return render(request, who, "invoices/mine.html", context)
