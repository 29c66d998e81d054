"""What the operator's pages share: who may open them, which platform they show, and the CSRF check
of their htmx forms (the token comes as the form field or, from htmx, as the header)."""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session

from backend.domain.access import Principal, Role
from backend.domain.errors import AccessDenied, Conflict, DomainError
from backend.http.sessions import CSRF_HEADER
from backend.models.platform import Platform
from backend.services.catalog import platforms
from backend.web.common import check_form_csrf, form_errors, need_login
from backend.web.words import translate


def need_staff(request: Request, who: Principal | None) -> Principal:
    """The operator's console is for operators (their platform) and administrators (any platform)."""
    caller = need_login(request, who)
    if caller.role not in (Role.operator, Role.admin):
        raise AccessDenied("the operator's console is for platform operators and administrators")
    return caller


def chosen_platform(session: Session, who: Principal, code: str | None) -> Platform:
    """An operator's own platform; an administrator's choice (`?platform=code`), else the first one."""
    if who.role is Role.operator and who.platform_id is not None:
        return platforms.get_platform(session, who.platform_id)
    if code:
        return platforms.platform_by_code(session, code)
    rows, _ = platforms.list_platforms(session, None, None, 0, 1)
    if not rows:
        raise AccessDenied("there is no platform yet")
    return rows[0]


def check_csrf(request: Request, field: str | None) -> None:
    check_form_csrf(request, field or request.headers.get(CSRF_HEADER))


def refusal(exc: DomainError) -> dict[str, str]:
    """`form_errors`, except that a conflict naming its field (`code: ...`) is shown next to that field
    rather than next to a booking's start."""
    field, sep, rest = exc.message.partition(": ")
    if isinstance(exc, Conflict) and sep and field.isidentifier():
        return {field: translate(rest)}
    return form_errors(exc)
