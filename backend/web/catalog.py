"""The catalog across platforms, one resource with its fees, free time and the booking form."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from backend.domain.errors import DomainError, Invalid
from backend.domain.intervals import Interval
from backend.http.deps import PageCaller, SessionDep, Writer
from backend.models.booking import BookingCreate
from backend.models.rate import UserClass
from backend.models.resource import ResourceKind
from backend.models.types import utcnow
from backend.models.waitlist import WaitlistEntry
from backend.services.bookings import waitlist
from backend.services.catalog import availability, platforms, resources
from backend.services.money import rates
from backend.web.common import check_form_csrf, form_errors, need_login, render, validation_errors

router = APIRouter(include_in_schema=False)


@router.get("/")
def catalog(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    q: Annotated[str | None, Query(max_length=100)] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    kind: ResourceKind | None = None,
    capability: Annotated[str | None, Query(max_length=64)] = None,
    attr: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Search across platforms; each result with its hourly fee for SMEs."""
    all_platforms, _ = platforms.list_platforms(session, None, None, 0, 500)
    errors: dict[str, str] = {}
    try:
        rows, count = resources.search_resources(
            session,
            platform=platform or None,
            city=city or None,
            kind=kind,
            capabilities=[capability] if capability else [],
            attributes=[attr] if attr else [],
            q=q or None,
            limit=200,
        )
    except DomainError as exc:
        rows, count, errors = [], 0, form_errors(exc)
    found = resources.to_public(session, rows)
    prices = rates.hourly_prices(session, [r.id for r in found], UserClass.external_sme, utcnow().date())
    context = {
        "resources": found,
        "count": count,
        "platforms": {p.id: p for p in all_platforms},
        "cities": sorted({p.city for p in all_platforms}),
        "prices": prices,
        "query": {
            "q": q or "",
            "city": city or "",
            "platform": platform or "",
            "kind": kind or "",
            "capability": capability or "",
            "attr": attr or "",
        },
        "kinds": list(ResourceKind),
        "errors": errors,
    }
    return render(request, who, "catalog/index.html", context, block="results")


def _week_start(day: date | None, zone: ZoneInfo) -> datetime:
    today = datetime.now(zone).date()
    first = day or today
    return datetime(first.year, first.month, first.day, tzinfo=zone)


@router.get("/resources/{resource_id}")
def resource_page(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    resource_id: int,
    week: date | None = None,
) -> Response:
    """Capabilities, attributes, fee standards per user class, opening hours, maintenance, free time for
    a week, and the booking form."""
    context = _resource_context(session, resource_id, week)
    return render(request, who, "catalog/resource.html", context)


def _resource_context(session: SessionDep, resource_id: int, week: date | None) -> dict[str, object]:
    resource = resources.get_resource(session, resource_id)
    platform = platforms.get_platform(session, resource.platform_id)
    zone = ZoneInfo(platform.timezone)
    start = _week_start(week, zone)
    free = availability.availability(
        session.connection(), resource_id, Interval(start, start + timedelta(days=7))
    ).free
    return {
        "resource": resources.to_public(session, [resource])[0],
        "platform": platform,
        "zone": platform.timezone,
        "rates": rates.list_rates(session, resource_id, utcnow().date()),
        "maintenance": resources.list_maintenance(session, resource_id),
        "days": [start + timedelta(days=i) for i in range(7)],
        "free": [(f.start.astimezone(zone), f.end.astimezone(zone)) for f in free],
        "previous_week": (start - timedelta(days=7)).date(),
        "next_week": (start + timedelta(days=7)).date(),
        "errors": {},
        "form": {},
    }


def _local(value: str, zone: ZoneInfo, field: str) -> datetime:
    """A `datetime-local` form value, read in the platform's zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(field, "not a date and time") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


@router.post("/resources/{resource_id}/book")
def book(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    purpose: Annotated[str, Form(max_length=2000)] = "",
    project_name: Annotated[str, Form(max_length=200)] = "",
    start: Annotated[str, Form(max_length=40)] = "",
    end: Annotated[str, Form(max_length=40)] = "",
    hazardous: Annotated[bool, Form()] = False,
    hazard_details: Annotated[str, Form(max_length=2000)] = "",
    wait: Annotated[bool, Form(alias="waitlist")] = False,
    window_start: Annotated[str, Form(max_length=40)] = "",
    window_end: Annotated[str, Form(max_length=40)] = "",
    duration_minutes: Annotated[str, Form(max_length=6)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """The booking form: the same use case as `POST /api/v1/bookings`. A fixed slot (`start`, `end`), or a
    flexible request (`window_start`, `window_end`, `duration_minutes`) the optimizer places; a refusal is
    shown next to the field it concerns, a booking opens its own page."""
    caller = need_login(request, who)
    resource = resources.get_resource(session, resource_id)
    zone = ZoneInfo(platforms.get_platform(session, resource.platform_id).timezone)
    form = {
        "purpose": purpose,
        "project_name": project_name,
        "start": start,
        "end": end,
        "hazardous": hazardous,
        "hazard_details": hazard_details,
        "waitlist": wait,
        "window_start": window_start,
        "window_end": window_end,
        "duration_minutes": duration_minutes,
    }
    check_form_csrf(request, csrf_token)
    try:
        data = BookingCreate.model_validate(
            {
                "resource_id": resource_id,
                "start": _local(start, zone, "start") if start else None,
                "end": _local(end, zone, "end") if end else None,
                "purpose": purpose,
                "project_name": project_name or None,
                "hazardous": hazardous,
                "hazard_details": hazard_details or None,
                "waitlist": wait,
                "window_start": _local(window_start, zone, "window_start") if window_start else None,
                "window_end": _local(window_end, zone, "window_end") if window_end else None,
                "duration_minutes": duration_minutes or None,
            }
        )
        with write() as tx:
            outcome = waitlist.request_or_wait(tx, caller, data)
    except DomainError as exc:
        return _form_again(request, who, session, resource_id, form, form_errors(exc))
    except ValidationError as exc:  # the same checks and messages as the API, per field
        return _form_again(request, who, session, resource_id, form, validation_errors(exc))
    target = "/me/bookings" if isinstance(outcome, WaitlistEntry) else f"/bookings/{outcome.id}"
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _form_again(
    request: Request,
    who: PageCaller,
    session: SessionDep,
    resource_id: int,
    form: dict[str, object],
    errors: dict[str, str],
) -> Response:
    """The form again with the refusals next to their fields: only the form for htmx (which swaps only
    successful answers), the whole page with the honest 422 for a plain form post."""
    context = {**_resource_context(session, resource_id, None), "errors": errors, "form": form}
    status = 200 if request.headers.get("hx-request") else 422
    return render(request, who, "catalog/resource.html", context, block="booking_form", status_code=status)
