"""The web pages, served by the API process on the same origin: one router per page family, templates
per concept under `templates/`, assets under `static/` (browser libraries in `static/vendor/`, from the
npm registry, see `assets/`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from backend.web import (
    account,
    admin,
    audit,
    catalog,
    docs,
    live,
    mine,
    operator_plan,
    operator_queue,
    operator_resources,
    operator_terms,
    operator_utilization,
    reconciliation,
    session,
)
from backend.web.common import LanguageMiddleware, LoginRequired, login_redirect

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for module in (
    session,
    catalog,
    mine,
    live,
    docs,
    operator_queue,
    operator_plan,
    operator_resources,
    operator_terms,
    operator_utilization,
    audit,
    reconciliation,
    admin,
    account,
):
    router.include_router(module.router)


def install_pages(app: FastAPI) -> None:
    """Pages, their static files, their language and the way back to the login page."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LanguageMiddleware)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request, exc)
