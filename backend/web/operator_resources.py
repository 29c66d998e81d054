"""Resource administration: the platform's resources (create, edit kind, capabilities, attributes, line
members), the weekly opening hours, auto-approval rules and each organization's monthly quota. Every form
posts, is answered by a redirect back (with a notice) or by the page again with the refusal next to its
field; the same use cases as the JSON API do the work. Maintenance, rates and qualifications:
`operator_terms`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from backend.domain.access import Principal, Role, ensure_manages_platform
from backend.domain.errors import DomainError, Invalid
from backend.domain.intervals import Interval
from backend.domain.opening_hours import WEEKDAYS
from backend.http.deps import PageCaller, SessionDep, Writer
from backend.models.organization import OrgKind
from backend.models.resource import ResourceCreate, ResourceKind, ResourceStatus, ResourceUpdate
from backend.services.accounts import users
from backend.services.bookings.affected import bookings_hit
from backend.services.catalog import platforms, qualifications, resources
from backend.services.money import rates
from backend.web.common import render, validation_errors
from backend.web.operator import check_csrf, chosen_platform, need_staff, refusal

router = APIRouter(include_in_schema=False)

Errors = dict[str, dict[str, str]]  # per form: {field: message}


# --- reading the forms ---------------------------------------------------------------------------


def tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]


def attributes(text: str) -> dict[str, Any]:
    """`name = value` per line; numbers and true/false keep their type."""
    out: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise Invalid("attributes", f"line {number}: write name = value")
        value = value.strip()
        if value.lower() in ("true", "false"):
            out[name.strip()] = value.lower() == "true"
            continue
        try:
            out[name.strip()] = float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            out[name.strip()] = value
    return out


def hours_text(periods: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in periods)


def weekly_hours(days: dict[str, str]) -> dict[str, list[list[str]]]:
    """`08:00-12:00, 13:00-20:00` per weekday (empty: closed) as the API's opening hours."""
    out: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        periods = []
        for part in tags(days.get(day, "")):
            start, sep, end = part.partition("-")
            if not sep:
                raise Invalid(f"hours_{day}", f"{part!r}: write from-to, e.g. 08:00-20:00")
            periods.append([start.strip(), end.strip()])
        out[day] = periods
    return out


# --- the pages ------------------------------------------------------------------------------------


@router.get("/operator/resources")
def resource_list(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    notice: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    caller = need_staff(request, who)
    chosen = chosen_platform(session, caller, platform)
    return render(
        request,
        who,
        "operator/resources.html",
        {**_list_context(session, caller, chosen.id or 0), "notice": notice},
    )


def _list_context(session: Session, who: Principal, platform_id: int) -> dict[str, Any]:
    platform = platforms.get_platform(session, platform_id)
    rows, _ = resources.search_resources(session, platform=platform.code, limit=500)
    quotas = {q.organization_id: q.hours_per_month for q in platforms.list_quotas(session, who, platform_id)}
    smes, _ = users.list_organizations(session, who, OrgKind.sme, None, 0, 500)
    return {
        "platform": platform,
        "resources": resources.to_public(session, rows),
        "kinds": list(ResourceKind),
        "smes": smes,
        "quotas": quotas,
        "errors": {},
        "form": {},
    }


@router.get("/operator/resources/{resource_id}")
def resource_page(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    resource_id: int,
    notice: Annotated[str | None, Query(max_length=300)] = None,
    repair: int | None = None,
) -> Response:
    caller = need_staff(request, who)
    context = resource_context(session, caller, resource_id)
    return render(request, who, "operator/resource.html", {**context, "notice": notice, "repair": repair})


def resource_context(session: Session, who: Principal, resource_id: int) -> dict[str, Any]:
    resource = resources.get_resource(session, resource_id)
    platform = platforms.get_platform(session, resource.platform_id)
    ensure_manages_platform(who, resource.platform_id)
    windows = resources.list_maintenance(session, resource_id)
    now = datetime.now(UTC)
    upcoming = [w for w in windows if w.end > now - timedelta(days=30)]
    hits = bookings_hit(session, resource_id, [Interval(w.start, w.end) for w in upcoming])
    granted, _ = qualifications.list_qualifications(session, who, None, resource_id, 0, 500)
    people = {u.id: u for u in users.list_users(session, who, Role.sme, None, None, 0, 500)[0]}
    hours = resource.opening_hours
    return {
        "resource": resources.to_public(session, [resource])[0],
        "platform": platform,
        "zone": platform.timezone,
        "statuses": list(ResourceStatus),
        "weekdays": WEEKDAYS,
        "hours": {d: hours_text(hours.get(d, [])) for d in WEEKDAYS} if hours is not None else None,
        "platform_hours": {d: hours_text((platform.opening_hours or {}).get(d, [])) for d in WEEKDAYS},
        "rule": resource.auto_approve or {},
        "maintenance": list(zip(upcoming, hits, strict=True)),
        "rates": rates.list_rates(session, resource_id),
        "qualified": [(q, people.get(q.user_id)) for q in granted],
        "smes": sorted(people.values(), key=lambda u: u.email),
        "errors": {},
        "form": {},
    }


# --- changing things ------------------------------------------------------------------------------


def act(
    request: Request,
    who: PageCaller,
    session: Session,
    write: Writer,
    csrf_token: str | None,
    resource_id: int | None,
    form_name: str,
    form: dict[str, Any],
    change: Callable[[Session, Principal], Any],
) -> Response:
    """Check the token, make one change in one transaction, then go back to the page (`notice=saved`),
    or show the page again with the refusal next to its field in form `form_name`."""
    caller = need_staff(request, who)
    try:
        check_csrf(request, csrf_token)
        with write() as tx:
            made = getattr(change(tx, caller), "id", None)
    except DomainError as exc:
        return form_again(request, who, session, caller, resource_id, form_name, form, refusal(exc))
    except ValidationError as exc:
        return form_again(request, who, session, caller, resource_id, form_name, form, validation_errors(exc))
    if resource_id is not None:
        target, anchor = f"/operator/resources/{resource_id}", f"#{form_name}"
    elif form_name == "create":
        target, anchor = f"/operator/resources/{made}", ""
    else:
        target, anchor = "/operator/resources", f"#{form_name}"
    return RedirectResponse(f"{target}?{urlencode({'notice': 'saved'})}{anchor}", status_code=303)


def form_again(
    request: Request,
    who: PageCaller,
    session: Session,
    caller: Principal,
    resource_id: int | None,
    form_name: str,
    form: dict[str, Any],
    errors: dict[str, str],
) -> Response:
    session.rollback()
    if resource_id is None:
        platform = chosen_platform(session, caller, None)
        context = _list_context(session, caller, platform.id or 0)
        template = "operator/resources.html"
    else:
        context = resource_context(session, caller, resource_id)
        template = "operator/resource.html"
    context.update({"errors": {form_name: errors}, "form": {form_name: form}, "notice": None})
    return render(request, who, template, context, status_code=422)


@router.post("/operator/resources")
def create(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    code: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=20)] = "instrument",
    name: Annotated[str, Form(max_length=200)] = "",
    name_en: Annotated[str, Form(max_length=200)] = "",
    capabilities: Annotated[str, Form(max_length=1000)] = "",
    members: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    form = {
        "code": code,
        "kind": kind,
        "name": name,
        "name_en": name_en,
        "capabilities": capabilities,
        "members": members,
    }

    def change(tx: Session, caller: Principal) -> Any:
        platform = chosen_platform(tx, caller, None)
        data = ResourceCreate.model_validate(
            {
                "platform_id": platform.id,
                "code": code,
                "kind": kind,
                "name": name,
                "name_en": name_en or None,
                "capabilities": tags(capabilities),
                "members": tags(members),
            }
        )
        return resources.create_resource(tx, caller, data)

    return act(request, who, session, write, csrf_token, None, "create", form, change)


@router.post("/operator/resources/{resource_id}")
def update(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    name: Annotated[str, Form(max_length=200)] = "",
    name_en: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    device_type: Annotated[str, Form(max_length=64)] = "",
    status: Annotated[str, Form(max_length=20)] = "active",
    unattended: Annotated[bool, Form()] = False,
    capabilities: Annotated[str, Form(max_length=1000)] = "",
    attrs: Annotated[str, Form(alias="attributes", max_length=4000)] = "",
    members: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    form = {"name": name, "name_en": name_en, "description": description, "attributes": attrs}

    def change(tx: Session, caller: Principal) -> Any:
        current = resources.get_resource(tx, resource_id)
        values: dict[str, Any] = {
            "name": name,
            "name_en": name_en or None,
            "description": description or None,
            "device_type": device_type or None,
            "status": status,
            "unattended": unattended,
            "capabilities": tags(capabilities),
            "attributes": attributes(attrs),
        }
        if current.kind == ResourceKind.line:
            values["members"] = tags(members)
        return resources.update_resource(tx, caller, resource_id, ResourceUpdate.model_validate(values))

    return act(request, who, session, write, csrf_token, resource_id, "details", form, change)


@router.post("/operator/resources/{resource_id}/hours")
async def opening_hours(
    request: Request, session: SessionDep, write: Writer, who: PageCaller, resource_id: int
) -> Response:
    """Seven fields, one per weekday, or the platform's hours."""
    submitted = await request.form()
    days = {d: str(submitted.get(f"hours_{d}", ""))[:200] for d in WEEKDAYS}
    inherit = submitted.get("inherit") == "true"

    def change(tx: Session, caller: Principal) -> Any:
        hours = None if inherit else weekly_hours(days)
        data = ResourceUpdate.model_validate({"opening_hours": hours})
        return resources.update_resource(tx, caller, resource_id, data)

    token = submitted.get("csrf_token")
    return act(
        request, who, session, write, str(token) if token else None, resource_id, "hours", days, change
    )


@router.post("/operator/resources/{resource_id}/auto-approve")
def auto_approve(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    enabled: Annotated[bool, Form()] = False,
    max_minutes: Annotated[str, Form(max_length=6)] = "",
    qualified_only: Annotated[bool, Form()] = False,
    no_hazard: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    form = {"max_minutes": max_minutes}

    def change(tx: Session, caller: Principal) -> Any:
        rule: dict[str, Any] = {"enabled": enabled, "qualified_only": qualified_only, "no_hazard": no_hazard}
        if max_minutes.strip():
            if not max_minutes.strip().isdigit():
                raise Invalid("max_minutes", "give whole minutes")
            rule["max_minutes"] = int(max_minutes)
        data = ResourceUpdate.model_validate({"auto_approve": rule})
        return resources.update_resource(tx, caller, resource_id, data)

    return act(request, who, session, write, csrf_token, resource_id, "auto", form, change)


@router.post("/operator/quotas")
def quota(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    organization_id: Annotated[int, Form()],
    hours_per_month: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """An organization's hours per month on this platform; empty lifts its limit."""
    form = {"organization_id": organization_id, "hours_per_month": hours_per_month}

    def change(tx: Session, caller: Principal) -> Any:
        platform = chosen_platform(tx, caller, None)
        try:
            hours = float(hours_per_month) if hours_per_month.strip() else None
        except ValueError:
            raise Invalid("hours_per_month", "give a number of hours") from None
        if hours is not None and hours < 0:
            raise Invalid("hours_per_month", "must not be negative")
        return platforms.set_quota(tx, caller, platform.id or 0, organization_id, hours)

    return act(request, who, session, write, csrf_token, None, "quota", form, change)
