"""What every page shares: the templates, the page context (who, navigation, language, CSRF token),
the language middleware, and the redirect to the login page when a session is needed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.domain.access import Principal, Role
from backend.domain.errors import AccessDenied, Conflict, DomainError, Invalid
from backend.http.errors import named_error
from backend.http.sessions import CSRF_FIELD, csrf_ok, csrf_token, remember_csrf
from backend.i18n import LANGUAGE_COOKIE, N_, choose_language, current_language, gettext, language, ngettext
from backend.templating import make_environment
from backend.web.words import audit_action, shown, translate

#: Pages load scripts, styles and data from PilotShare alone (no CDN; platforms run on closed networks).
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


@cache
def templates() -> Jinja2Blocks:
    """The one environment, whose `_` shows a code from data as its word (`words.shown`)."""
    env = make_environment()
    env.install_gettext_callables(shown, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(translate=translate, audit_action=audit_action)
    return Jinja2Blocks(env=env)


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str


def navigation(who: Principal | None) -> list[NavItem]:
    """What the signed-in role may do, in the order people use it."""
    items = [NavItem("/", N_("Catalog"))]
    if who is None:
        return items
    if who.role is Role.sme:
        items += [NavItem("/me/bookings", N_("My bookings")), NavItem("/me/invoices", N_("Invoices"))]
    if who.role in (Role.operator, Role.admin):
        items += [NavItem("/me/bookings", N_("Bookings")), NavItem("/live", N_("Live"))]
        items += [NavItem("/operator/queue", N_("Approvals")), NavItem("/operator/plan", N_("Plan"))]
        items += [
            NavItem("/operator/resources", N_("Resources")),
            NavItem("/operator/alarm-rules", N_("Alarm rules")),
            NavItem("/operator/utilization", N_("Utilization")),
            NavItem("/operator/quarantine", N_("Data review")),
        ]
    if who.role is Role.auditor:
        items += [NavItem("/me/bookings", N_("Bookings")), NavItem("/live", N_("Live"))]
    if who.role in (Role.auditor, Role.admin):
        items += [
            NavItem("/audit/report", N_("Report")),
            NavItem("/audit/reconciliation", N_("Reconciliation")),
            NavItem("/audit/log", N_("Audit log")),
        ]
    if who.role is Role.auditor:
        items.append(NavItem("/operator/quarantine", N_("Data review")))
        items.append(NavItem("/operator/alarm-rules", N_("Alarm rules")))
    if who.role is Role.admin:
        items.append(NavItem("/admin", N_("Administration")))
    items.append(NavItem("/account", N_("My account")))
    return items


class LoginRequired(Exception):
    """The page needs a session; the visitor is sent to log in and then back here."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


def here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def need_login(request: Request, who: Principal | None) -> Principal:
    if who is None:
        raise LoginRequired(here(request))
    return who


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = "/login?" + urlencode({"next": exc.back_to})
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def other_language_url(request: Request) -> str:
    other = "en" if current_language() == "zh" else "zh"
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
    return request.url.path + "?" + urlencode(params)


def render(
    request: Request,
    who: Principal | None,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A full page, or only `block` of it when htmx asks for a fragment."""
    page = {
        "request": request,
        "who": who,
        "nav": navigation(who),
        "csrf": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "here": here(request),
        "other_language_url": other_language_url(request),
        **(context or {}),
    }
    fragment = block if block and request.headers.get("hx-request") else None
    response = templates().TemplateResponse(
        request, template, page, status_code=status_code, block_name=fragment
    )
    remember_csrf(request, response)
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    assert isinstance(response, HTMLResponse)
    return response


def check_form_csrf(request: Request, submitted: str | None) -> None:
    if not csrf_ok(request, submitted):
        raise AccessDenied(gettext("The form has expired; reload the page and try again."))


ERROR_FIELD = {Conflict: "start", AccessDenied: "form"}


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's refusals of a form, per field, with the API's wording (`backend.http.errors`)."""
    named = [named_error(tuple(e["loc"]), str(e["msg"])) for e in exc.errors()]
    return {e["field"]: translate(e["message"]) for e in named}


def form_errors(exc: DomainError) -> dict[str, str]:
    """A refusal as `{field: message}`, so the form shows it next to the field it concerns."""
    if isinstance(exc, Invalid):
        field = exc.field
        message = exc.message.removeprefix(f"{exc.field}: ")
    else:
        field = next((f for kind, f in ERROR_FIELD.items() if isinstance(exc, kind)), "form")
        message = exc.message
    return {field: translate(message)}


def quoted(path: str) -> str:
    return quote(path, safe="/?=&")


class LanguageMiddleware:
    """Sets the request's language (`?lang=`, else the `ps_lang` cookie, else Chinese) and remembers a
    language asked for in the query string in the cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        asked = request.query_params.get("lang")
        chosen = choose_language(asked, request.cookies.get(LANGUAGE_COOKIE))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and asked == chosen:
                cookie = f"{LANGUAGE_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        with language(chosen):
            await self.app(scope, receive, send_with_cookie)
