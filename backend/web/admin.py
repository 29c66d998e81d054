"""The admin page: platforms, organizations (credit code, actual controller) and users with their roles —
list, create, edit, and deactivate a user — through the same use cases and rules as the JSON API
(`catalog.platforms`, `accounts.users`). A refusal is shown next to the field it concerns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, SQLModel

from backend.domain.access import Principal, Role, ensure_admin
from backend.domain.errors import AccessDenied, DomainError, NotFound
from backend.http.deps import PageCaller, SessionDep, Writer
from backend.i18n import N_, pick
from backend.models.organization import OrganizationCreate, OrganizationUpdate, OrgKind
from backend.models.platform import PlatformCreate, PlatformUpdate
from backend.models.user import UserCreate, UserUpdate
from backend.services.accounts import users
from backend.services.catalog import platforms
from backend.web.common import check_form_csrf, form_errors, need_login, render, validation_errors
from backend.web.words import shown, translate

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Kind:
    """One thing the page administers: its form fields and the use cases that create and change it."""

    create_fields: tuple[str, ...]
    edit_fields: tuple[str, ...]
    create_model: type[SQLModel]
    update_model: type[SQLModel]
    create: Callable[[Session, Principal, Any], Any]
    update: Callable[[Session, Principal, int, Any], Any]
    get: Callable[[Session, Principal, int], Any]


KINDS = {
    "platforms": Kind(
        ("code", "name", "name_en", "city", "city_en", "industry", "industry_en", "timezone", "owner_org_id"),
        (
            "name",
            "name_en",
            "city",
            "city_en",
            "industry",
            "industry_en",
            "timezone",
            "owner_org_id",
            "published",
        ),
        PlatformCreate,
        PlatformUpdate,
        platforms.create_platform,
        platforms.update_platform,
        lambda session, _who, ident: platforms.get_platform(session, ident),
    ),
    "organizations": Kind(
        ("code", "name", "name_en", "kind", "credit_code", "actual_controller"),
        ("name", "name_en", "kind", "credit_code", "actual_controller"),
        OrganizationCreate,
        OrganizationUpdate,
        users.create_organization,
        users.update_organization,
        users.get_organization,
    ),
    "users": Kind(
        ("email", "full_name", "role", "organization_id", "platform_id", "password"),
        ("full_name", "role", "organization_id", "platform_id", "password"),
        UserCreate,
        UserUpdate,
        users.create_user,
        users.update_user,
        users.get_user,
    ),
}


NOTICES = {
    "platforms-created": N_("The platform is created."),
    "platforms-saved": N_("The platform is saved."),
    "organizations-created": N_("The organization is created."),
    "organizations-saved": N_("The organization is saved."),
    "users-created": N_("The user is created."),
    "users-saved": N_("The user is saved."),
}


def _admin(request: Request, who: Principal | None) -> Principal:
    caller = need_login(request, who)
    ensure_admin(caller)
    return caller


def _refused(request: Request, who: Principal | None, exc: AccessDenied) -> Response:
    """A page, not a bare 403, for whoever is not an admin."""
    return render(request, who, "admin/refused.html", {"errors": form_errors(exc)}, status_code=403)


def _choices(session: Session, who: Principal) -> dict[str, Any]:
    every_platform, _ = platforms.list_platforms(session, None, None, 0, 500)
    orgs, _ = users.list_organizations(session, who, None, None, 0, 500)
    return {
        "platforms": every_platform,
        "organizations": orgs,
        "org_names": {o.id: pick(o.name, o.name_en) for o in orgs},
        "platform_codes": {p.id: p.code for p in every_platform},
        "roles": list(Role),
        "org_options": [(o.id, pick(o.name, o.name_en)) for o in orgs],
        "platform_options": [(p.id, p.code) for p in every_platform],
        "kind_options": [(k.value, shown(k.value)) for k in OrgKind],
        "role_options": [(r.value, shown(r.value)) for r in Role],
    }


def _page(
    request: Request,
    session: Session,
    who: Principal,
    *,
    q: str = "",
    role: str = "",
    forms: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    notice: str | None = None,
    status_code: int = 200,
    block: str | None = None,
) -> Response:
    people, count = users.list_users(session, who, Role(role) if role else None, None, q or None, 0, 200)
    context = {
        **_choices(session, who),
        "users": people,
        "user_count": count,
        "query": {"q": q, "role": role},
        "forms": forms or {},
        "errors": errors or {},
        "notice": NOTICES.get(notice or ""),
    }
    return render(request, who, "admin/index.html", context, block=block, status_code=status_code)


@router.get("/admin")
def admin_page(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    q: Annotated[str, Query(max_length=100)] = "",
    role: Annotated[str, Query(max_length=20)] = "",
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    try:
        caller = _admin(request, who)
    except AccessDenied as exc:
        return _refused(request, who, exc)
    if role and role not in Role.__members__:
        role = ""
    return _page(request, session, caller, q=q, role=role, notice=notice, block="users")


def _values(form: dict[str, str], fields: tuple[str, ...], *, editing: bool) -> dict[str, Any]:
    """The submitted fields: blanks are left out (the model's default) when creating and mean "none"
    when editing, except a blank password, which keeps the old one."""
    values: dict[str, Any] = {}
    for name in fields:
        raw = form.get(name)
        text = raw.strip() if isinstance(raw, str) else raw
        if text in (None, ""):
            if editing and name in form and name != "password":
                values[name] = None
            continue
        values[name] = text
    return values


def _errors(exc: DomainError | ValidationError, fields: tuple[str, ...]) -> dict[str, str]:
    """Refusals per field; a conflict that names its field ("code: … exists already") goes next to it."""
    if isinstance(exc, ValidationError):
        return validation_errors(exc)
    found = form_errors(exc)
    field, _, rest = exc.message.partition(": ")
    if field in fields and rest and not any(k in fields for k in found):
        return {field: translate(rest)}
    return found


async def _submitted(request: Request) -> dict[str, str]:
    """The posted form (its fields differ per kind), refused without its CSRF token."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_form_csrf(request, form.get("csrf_token"))
    return form


Submitted = Annotated[dict[str, str], Depends(_submitted)]


def _kind(request: Request, who: Principal | None, kind: str) -> tuple[Principal, Kind]:
    caller = _admin(request, who)
    spec = KINDS.get(kind)
    if spec is None:
        raise NotFound(f"nothing called {kind!r} to administer")
    return caller, spec


@router.post("/admin/{kind}")
def create(
    request: Request, session: SessionDep, write: Writer, who: PageCaller, form: Submitted, kind: str
) -> Response:
    """Create a platform, an organization or a user; the form again with its refusals otherwise."""
    caller, spec = _kind(request, who, kind)
    try:
        data = spec.create_model.model_validate(_values(form, spec.create_fields, editing=False))
        with write() as tx:
            spec.create(tx, caller, data)
    except (DomainError, ValidationError) as exc:
        shown = {k: v for k, v in form.items() if k != "password"}
        status = 200 if request.headers.get("hx-request") else 422
        errors = {kind: _errors(exc, spec.create_fields)}
        return _page(
            request,
            session,
            caller,
            forms={kind: shown},
            errors=errors,
            status_code=status,
            block=f"{kind}_form",
        )
    target = f"/admin?notice={kind}-created#{kind}"
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/admin/{kind}/{ident}")
def edit_page(request: Request, session: SessionDep, who: PageCaller, kind: str, ident: int) -> Response:
    try:
        caller, spec = _kind(request, who, kind)
    except AccessDenied as exc:
        return _refused(request, who, exc)
    row = spec.get(session, caller, ident)
    context = {**_choices(session, caller), "kind": kind, "row": row, "form": row.model_dump(), "errors": {}}
    return render(request, who, "admin/edit.html", context)


@router.post("/admin/{kind}/{ident}")
def save(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    form: Submitted,
    kind: str,
    ident: int,
) -> Response:
    """Change what the form shows; a user is deactivated or reactivated with `is_active` alone."""
    caller, spec = _kind(request, who, kind)
    fields = ("is_active",) if "is_active" in form and kind == "users" else spec.edit_fields
    try:
        data = spec.update_model.model_validate(_values(form, fields, editing=True))
        with write() as tx:
            spec.update(tx, caller, ident, data)
    except (DomainError, ValidationError) as exc:
        row = spec.get(session, caller, ident)
        context = {**_choices(session, caller), "kind": kind, "row": row}
        context |= {"form": {**row.model_dump(), **form}, "errors": _errors(exc, fields)}
        return render(request, who, "admin/edit.html", context, status_code=422)
    return RedirectResponse(f"/admin?notice={kind}-saved#{kind}", status_code=303)
