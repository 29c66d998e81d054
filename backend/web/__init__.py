"""The web pages: the server-rendered catalog, and the live view of the instruments (static page + JS that
uses the API and the twin stream with the visitor's own token)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from backend.http.deps import SessionDep
from backend.services.catalog import platforms as platform_service
from backend.services.catalog import resources as resource_service
from backend.templating import make_environment

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(env=make_environment())
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    platforms, _ = platform_service.list_platforms(session, None, None, 0, 100)
    rows, _ = resource_service.search_resources(session, limit=500)
    resources = resource_service.to_public(session, rows)
    return templates.TemplateResponse(request, "home.html", {"platforms": platforms, "resources": resources})


@router.get("/live", response_class=HTMLResponse)
def live(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "live.html", {})
