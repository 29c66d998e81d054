"""The web pages, served by the API process on the same origin: one router per page family, templates
per concept under `templates/`, assets under `static/` (browser libraries in `static/vendor/`, from the
npm registry, see `assets/`)."""

from __future__ import annotations

import inspect
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from backend.domain.errors import DomainError
from backend.http.deps import get_page_principal
from backend.http.errors import status_of
from backend.http.routes import add_routes
from backend.web import (
    account,
    admin,
    audit,
    catalog,
    docs,
    live,
    mine,
    operator_alarm_rules,
    operator_plan,
    operator_quarantine,
    operator_queue,
    operator_resources,
    operator_terms,
    operator_utilization,
    reconciliation,
    session,
)
from backend.web.common import LanguageMiddleware, LoginRequired, form_errors, login_redirect, render

STATIC = Path(__file__).parent / "static"

PAGE_ROUTERS = tuple(
    module.router
    for module in (
        session,
        catalog,
        mine,
        live,
        docs,
        operator_quarantine,
        operator_queue,
        operator_plan,
        operator_resources,
        operator_terms,
        operator_alarm_rules,
        operator_utilization,
        audit,
        reconciliation,
        admin,
        account,
    )
)


def install_pages(app: FastAPI) -> None:
    """Pages, their static files, their language and the way back to the login page."""
    add_routes(app, "", *PAGE_ROUTERS)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LanguageMiddleware)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request, exc)

    answer_api = app.exception_handlers[DomainError]

    @app.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> Response:
        """A page's refusal (someone else's booking, a platform not one's own) as a page in the reader's
        language, with the navigation; the JSON API's as the API's error."""
        if request.url.path.startswith("/api/") or request.headers.get("hx-request"):
            answer = answer_api(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        state = request.app.state
        who = await run_in_threadpool(get_page_principal, request, state.engine, state.settings)
        errors = form_errors(exc)
        return render(request, who, "refused.html", {"errors": errors}, status_code=status_of(exc))
