"""The auditor's reconciliation of bookings with measured use: categories with their counts, filters, the
use nobody booked, and a random sample of bookings for spot checks that the shown seed reproduces."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from backend.domain.errors import DomainError, Invalid
from backend.domain.reconciliation import BOOKING_CATEGORIES, MAX_SAMPLE, TOLERANCE, Category
from backend.http.deps import PageCaller, SessionDep
from backend.i18n import N_
from backend.services.compliance import reconciliation as service
from backend.web.audit import PeriodDep, Text, parse_day, period_query, refusal_status
from backend.web.common import form_errors, need_login, render

router = APIRouter(include_in_schema=False)

SEED_LIMIT = 1_000_000
#: How the page names each category.
LABELS = {
    Category.on_time: N_("On time"),
    Category.late_start: N_("Late start"),
    Category.overrun: N_("Overrun"),
    Category.early_finish: N_("Early finish"),
    Category.no_show: N_("No-show"),
    Category.pending: N_("Not over yet"),
    Category.unbooked: N_("Use without a booking"),
}


def _number(value: str, field: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise Invalid(field, f"not a whole number: {value!r}") from None


@router.get("/audit/reconciliation")
def reconciliation_page(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    asked: PeriodDep,
    category: Text = "",
    resource: Text = "",
    org: Text = "",
    sample: Text = "",
    seed: Text = "",
) -> Response:
    """Bookings of the platform and period against their measured use. `sample=N` without a seed picks
    a seed and sends the reader to the address that carries it, so the same address shows the same
    sample again."""
    caller = need_login(request, who)
    query = period_query(session, caller, asked)
    query |= {"category": category, "resource": resource, "org": org, "sample": sample, "seed": seed}
    context: dict[str, Any] = {"query": query, "categories": BOOKING_CATEGORIES, "errors": {}}
    context |= {"tolerance": int(TOLERANCE.total_seconds() // 60), "max_sample": MAX_SAMPLE}
    context |= {"labels": {c.value: label for c, label in LABELS.items()}}
    try:
        n, chosen_seed = _number(sample, "sample"), _number(seed, "seed")
        if n is not None and chosen_seed is None:
            fixed = {k: v for k, v in query.items() if k != "platforms" and v} | {
                "seed": secrets.randbelow(SEED_LIMIT)
            }
            return RedirectResponse("/audit/reconciliation?" + urlencode(fixed), status_code=303)
        found = service.reconciliation(
            session,
            caller,
            service.Query(
                platform=query["platform"],
                first=parse_day(query["from"], "from"),
                last=parse_day(query["to"], "to"),
                category=_category(category),
                resource=resource or None,
                organization_id=_number(org, "org"),
            ),
        )
        sampled = service.spot_check(found, n, chosen_seed or 0) if n is not None else None
    except DomainError as exc:
        context |= {"found": None, "errors": form_errors(exc)}
        return render(request, who, "audit/reconciliation.html", context, status_code=refusal_status(exc))
    base = {k: v for k, v in query.items() if k not in ("platforms", "category", "sample", "seed") and v}
    context |= {
        "found": found,
        "sampled": sampled,
        "zone": found.platform.timezone,
        "filter_url": lambda c: "/audit/reconciliation?" + urlencode({**base, "category": c}),
    }
    return render(request, who, "audit/reconciliation.html", context)


def _category(value: str) -> Category | None:
    if not value:
        return None
    try:
        return Category(value)
    except ValueError:
        raise Invalid("category", f"unknown category {value!r}") from None
