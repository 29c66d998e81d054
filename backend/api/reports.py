from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from backend.domain.access import Principal
from backend.domain.utilization import Every
from backend.http.deps import (
    Caller,
    EngineDep,
    SessionDep,
    SettingsDep,
    TokenDep,
    get_current_user,
    get_page_principal,
)
from backend.models.common import Day, Moment
from backend.services.accounts.security import principal_of
from backend.services.compliance import reports as service
from backend.services.compliance import utilization as utilization_service
from backend.services.compliance.exports import MEDIA_TYPES, ReportFormat, render

router = APIRouter(prefix="/reports", tags=["reports"])


def _reader(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    token: TokenDep,
    format: ReportFormat = ReportFormat.json,
) -> Principal | None:
    """The caller; None only for a browser that follows a link to the printable page (`format=html`)
    without a bearer token or a live session: it is sent to the report page, which asks it to log in,
    instead of a bare 401."""
    if format is ReportFormat.html and token is None:
        return get_page_principal(request, engine, settings)
    return principal_of(get_current_user(request, engine, settings, token))


@router.get(
    "/sharing",
    response_model=dict[str, Any],
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
)
def sharing_report(
    engine: EngineDep,
    settings: SettingsDep,
    who: Annotated[Principal | None, Depends(_reader)],
    first: Annotated[Day, Query(alias="from", description="first day, e.g. 2026-12-01")],
    last: Annotated[Day, Query(alias="to", description="last day (inclusive)")],
    platform: Annotated[str | None, Query(description="platform code; all you may see when omitted")] = None,
    format: Annotated[ReportFormat, Query(description="json, csv or html (printable)")] = ReportFormat.json,
    as_of: Annotated[
        Moment | None, Query(description="count booked time up to this moment (default: now)")
    ] = None,
    rubric: Annotated[str | None, Query(description="rubric id of the score (default: the setting)")] = None,
) -> Response:
    """Sharing performance per platform (docs/reports.md): effective and external hours, sharing rate,
    SMEs served, bookings, approval response times, booked vs actual, income; with the audit chain's
    head so the figures can be tied to one intact log. Auditors and admins: every platform; operators:
    their own."""
    if who is None:
        page = {"from": first.isoformat(), "to": last.isoformat(), "platform": platform or ""}
        return RedirectResponse("/audit/report?" + urlencode(page), status_code=303)
    report = service.sharing(
        engine, who, first, last, platform, as_of, rubric or settings.score_rubric, settings.rubrics_dir
    )
    return Response(render(report, format), media_type=MEDIA_TYPES[format])


@router.get("/utilization", response_model=dict[str, Any])
def utilization_report(
    session: SessionDep,
    who: Caller,
    platform: Annotated[str, Query(description="platform code")],
    first: Annotated[Day, Query(alias="from", description="first day, e.g. 2026-12-01")],
    last: Annotated[Day, Query(alias="to", description="last day (inclusive)")],
    every: Annotated[Every, Query(description="day, week or month, in the platform's zone")] = Every.day,
) -> dict[str, Any]:
    """Per resource and period: opening hours (less maintenance), booked hours, measured use, and their
    ratios — the heatmap of the operator console (docs/reports.md, "Utilization"). Auditors and admins:
    any platform; operators: their own."""
    return utilization_service.utilization(session, who, platform, first, last, every)
