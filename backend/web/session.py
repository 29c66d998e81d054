"""Logging in and out of the web pages (a session cookie; the same accounts as the API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from backend.domain.access import Role
from backend.domain.errors import Throttled
from backend.http.deps import EngineDep, PageCaller, SettingsDep
from backend.http.sessions import end_session, start_session
from backend.i18n import gettext
from backend.services.accounts import login
from backend.services.accounts.security import principal_of
from backend.web.common import check_form_csrf, render

router = APIRouter(include_in_schema=False)

HOME = {Role.sme: "/me/bookings", Role.operator: "/live", Role.admin: "/live", Role.auditor: "/audit/report"}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never send a visitor elsewhere after logging in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/login")
def login_page(request: Request, who: PageCaller, next: str | None = None) -> Response:
    return render(request, who, "session/login.html", {"next": _safe_next(next) or "", "errors": {}})


@router.post("/login")
def log_in(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    check_form_csrf(request, csrf_token)
    address = request.client.host if request.client else "unknown"
    try:
        done = login.log_in(engine, settings, email.strip(), password, address)
    except Throttled as exc:  # the same throttling as POST /api/v1/auth/token
        errors = {"password": gettext("Too many failed log-ins; try again in a few minutes.")}
        context = {"next": _safe_next(next) or "", "errors": errors, "email": email}
        refused = render(request, None, "session/login.html", context, status_code=429)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    if done is None:
        errors = {"password": gettext("Wrong e-mail or password, or the account is disabled.")}
        context = {"next": _safe_next(next) or "", "errors": errors, "email": email}
        return render(request, None, "session/login.html", context, status_code=401)
    who = principal_of(done.user)
    response = RedirectResponse(_safe_next(next) or HOME[who.role], status_code=303)
    start_session(request, response, done.access_token, settings.access_token_minutes * 60)
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def log_out() -> Response:
    response = RedirectResponse("/", status_code=303)
    end_session(response)
    return response
