"""The application matches every route by its own path, with no included router to walk first
(backend.http.routes), and the helper refuses what it cannot add as it stands."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from backend.http.routes import add_routes
from backend.main import create_app
from backend.settings import Settings


def test_every_route_of_the_application_is_its_own() -> None:
    app = create_app(Settings(database_url="sqlite://", secret_key="k" * 40))

    # FastAPI's own /openapi.json is a plain route; nothing else may need walking to be matched
    others = [route for route in app.routes if not isinstance(route, APIRoute | Mount | Route)]

    assert others == []
    paths = {route.path for route in app.routes if isinstance(route, APIRoute)}
    assert {"/api/v1/healthz", "/healthz", "/api/v1/bookings", "/"} <= paths


def test_a_route_keeps_its_prefix_tags_and_name() -> None:
    router = APIRouter(prefix="/things", tags=["things"])

    @router.get("/{thing_id}")
    def read_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app = FastAPI()
    add_routes(app, "/api/v1", router)

    (route,) = [r for r in app.routes if isinstance(r, APIRoute)]
    assert (route.path, route.tags, route.name) == ("/api/v1/things/{thing_id}", ["things"], "read_thing")
    assert app.url_path_for("read_thing", thing_id=7) == "/api/v1/things/7"


def test_a_router_that_includes_another_is_refused() -> None:
    outer, inner = APIRouter(), APIRouter()
    inner.add_api_route("/x", lambda: None)
    outer.include_router(inner)

    with pytest.raises(TypeError, match="include its router instead"):
        add_routes(FastAPI(), "", outer)
