"""Utilization: a heatmap of resource × day, hours measured in use against opening hours or against
booked time over a chosen period, the figures behind each cell on hover, and the same figures as CSV.
The figures are `GET /reports/utilization`'s (`backend.services.compliance.utilization`): opening hours
less maintenance, granted bookings, counted usage sessions."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from backend.domain.errors import DomainError
from backend.domain.utilization import Every
from backend.http.deps import PageCaller, SessionDep
from backend.i18n import pick
from backend.services.compliance.utilization import utilization as report
from backend.web.common import form_errors, render
from backend.web.operator import chosen_platform, need_staff

router = APIRouter(include_in_schema=False)

Against = Literal["open", "booked"]
#: The CSV's columns after resource and day, as GET /reports/utilization names them.
FIGURES = ("open_hours", "booked_hours", "used_hours", "booked_ratio", "used_ratio", "used_of_booked")


def _period(first: date | None, last: date | None, zone: ZoneInfo) -> tuple[date, date]:
    """The four weeks up to yesterday unless asked."""
    yesterday = datetime.now(zone).date() - timedelta(days=1)
    last = last or yesterday
    return first or last - timedelta(days=27), last


def chart_data(figures: dict[str, Any], against: Against) -> dict[str, object]:
    """Cells [day, row, ratio, measured h, open h, booked h] for static/utilization.js."""
    ratio = "used_ratio" if against == "open" else "used_of_booked"
    cells = [
        [x, y, c[ratio], c["used_hours"], c["open_hours"], c["booked_hours"]]
        for y, row in enumerate(figures["data"])
        for x, c in enumerate(row["periods"])
    ]
    return {
        "days": [p["start"][5:10] for p in figures["periods"]],
        "rows": [row["resource"] for row in figures["data"]],
        "cells": cells,
    }


@router.get("/operator/utilization")
def utilization(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    against: Against = "open",
    platform: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    caller = need_staff(request, who)
    chosen = chosen_platform(session, caller, platform)
    first, last = _period(first, last, ZoneInfo(chosen.timezone))
    errors: dict[str, str] = {}
    try:
        figures = report(session, caller, chosen.code, first, last, Every.day)
        chart, totals = chart_data(figures, against), _totals(figures)
    except DomainError as exc:
        chart, totals, errors = {"days": [], "rows": [], "cells": []}, [], form_errors(exc)
    context = {
        "platform": chosen,
        "first": first,
        "last": last,
        "against": against,
        "chart": json.dumps(chart, separators=(",", ":")),
        "totals": totals,
        "errors": errors,
    }
    return render(request, who, "operator/utilization.html", context, status_code=422 if errors else 200)


def _totals(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Per resource over the period: the row sums behind the heatmap."""
    out: list[dict[str, Any]] = []
    for row in figures["data"]:
        opened = sum(c["open_hours"] for c in row["periods"])
        booked = sum(c["booked_hours"] for c in row["periods"])
        used = sum(c["used_hours"] for c in row["periods"])
        out.append(
            {
                "code": row["resource"],
                "name": pick(row["name"], row.get("name_en")),
                "open": opened,
                "booked": booked,
                "measured": used,
                "of_open": used / opened if opened else None,
                "of_booked": used / booked if booked else None,
            }
        )
    return out


@router.get("/operator/utilization.csv")
def utilization_csv(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    platform: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """One row per resource and day: hours open, booked and measured, and the two ratios."""
    caller = need_staff(request, who)
    chosen = chosen_platform(session, caller, platform)
    first, last = _period(first, last, ZoneInfo(chosen.timezone))
    figures = report(session, caller, chosen.code, first, last, Every.day)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["resource", "day", *FIGURES])
    for row in figures["data"]:
        for c in row["periods"]:
            writer.writerow(
                [row["resource"], c["start"][:10], *("" if c[f] is None else f"{c[f]:g}" for f in FIGURES)]
            )
    name = f"utilization-{chosen.code}-{first}-{last}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
