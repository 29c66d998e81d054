"""Data review: telemetry ingest quarantined because it is stamped inside an invoiced month. The
platform's operator releases each message into the run data or discards it, in place (htmx swaps the
row); auditors read the same list. The use case: `backend.services.telemetry.quarantine`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from backend.domain.access import Role
from backend.domain.errors import AccessDenied, DomainError
from backend.domain.telemetry_checks import QuarantineDecision
from backend.http.deps import InfluxDep, PageCaller, SessionDep, Writer
from backend.services.catalog import platforms
from backend.services.telemetry import quarantine
from backend.web.common import form_errors, need_login, render
from backend.web.operator import check_csrf, chosen_platform

router = APIRouter(include_in_schema=False)

TEMPLATE = "operator/quarantine.html"
PAGE = "/operator/quarantine"


@router.get(PAGE)
def review_page(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    platform: str | None = None,
    show: Literal["waiting", "all"] = "waiting",
) -> Response:
    caller = need_login(request, who)
    if caller.role is Role.sme:
        raise AccessDenied("quarantined telemetry is for the platform's staff and auditors")
    chosen = chosen_platform(session, caller, platform)
    reviewed = False if show == "waiting" else None
    rows, count = quarantine.list_quarantined(session, caller, chosen.id, reviewed, 0, 200)
    context = {
        "rows": rows,
        "count": count,
        "show": show,
        "platform": chosen,
        "zone": chosen.timezone,
        "decides": caller.role in (Role.operator, Role.admin),
    }
    return render(request, who, TEMPLATE, context)


@router.post(PAGE + "/{quarantined_id}/{decision}")
def review(
    request: Request,
    session: SessionDep,
    write: Writer,
    influx: InfluxDep,
    who: PageCaller,
    quarantined_id: int,
    decision: QuarantineDecision,
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """One decision, then the row again: decided, or with the refusal in it."""
    caller = need_login(request, who)
    errors: dict[str, str] = {}
    try:
        check_csrf(request, csrf_token)
        with write() as tx:
            quarantine.review(tx, influx, caller, quarantined_id, decision, note or None)
    except DomainError as exc:
        errors = form_errors(exc)
    if not request.headers.get("hx-request"):
        return RedirectResponse(PAGE, status_code=303)
    row = quarantine.get_quarantined(session, caller, quarantined_id)
    zone = platforms.get_platform(session, row.platform_id).timezone
    context = {"row": row, "errors": errors, "note": note, "zone": zone, "decides": True}
    return render(request, who, TEMPLATE, context, block="row")
