"""The approval inbox: requests with their SLA clock, green channel, SME, purpose, hazard declaration
and qualification; approve, reject with a reason, or mark a key project, each in place (htmx swaps the
row)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from backend.domain.errors import DomainError
from backend.http.deps import PageCaller, SessionDep, Writer
from backend.services.bookings import inbox, lifecycle, queries
from backend.services.bookings.presentation import to_public
from backend.services.catalog import platforms
from backend.web.common import form_errors, render
from backend.web.operator import check_csrf, chosen_platform, need_staff

router = APIRouter(include_in_schema=False)

TEMPLATE = "operator/queue.html"


@router.get("/operator/queue")
def queue(request: Request, session: SessionDep, who: PageCaller, platform: str | None = None) -> Response:
    caller = need_staff(request, who)
    chosen = chosen_platform(session, caller, platform)
    items = inbox.inbox(session, caller, chosen.id)
    context = {"items": items, "platform": chosen, "zone": chosen.timezone}
    return render(request, who, TEMPLATE, context, block="inbox")


def _decide(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    booking_id: int,
    action: str,
    reason: str,
    csrf_token: str | None,
) -> Response:
    """One decision, then the row again: decided, or with the refusal next to its field."""
    caller = need_staff(request, who)
    errors: dict[str, str] = {}
    try:
        check_csrf(request, csrf_token)
        with write() as tx:
            if action == "approve":
                lifecycle.approve(tx, caller, booking_id, reason or None)
            elif action == "reject":
                lifecycle.reject(tx, caller, booking_id, reason or None)
            else:
                lifecycle.set_key_project(tx, caller, booking_id, action == "key", reason or None)
    except DomainError as exc:
        errors = form_errors(exc)
    if not request.headers.get("hx-request"):
        return RedirectResponse("/operator/queue", status_code=303)
    booking = queries.get_booking(session, caller, booking_id)
    waiting = inbox.inbox(session, caller, booking.platform_id)
    item = next((i for i in waiting if i.booking.id == booking_id), None)
    context = {
        "item": item,
        "decided": None if item else to_public(session, [booking])[0],  # no longer waiting: how it ended
        "errors": errors,
        "reason": reason,
        "zone": platforms.get_platform(session, booking.platform_id).timezone,
    }
    return render(request, who, TEMPLATE, context, block="row")


@router.post("/operator/queue/{booking_id}/key-project")
def key_project(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    booking_id: int,
    key: Annotated[bool, Form()] = True,
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    action = "key" if key else "ordinary"
    return _decide(request, session, write, who, booking_id, action, reason, csrf_token)


@router.post("/operator/queue/{booking_id}/{decision}")
def decide(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    booking_id: int,
    decision: Literal["approve", "reject"],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    return _decide(request, session, write, who, booking_id, decision, reason, csrf_token)
