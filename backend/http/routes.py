"""Routes added to the application one by one instead of as included routers.

FastAPI (0.165) answers a request for a route of an included router by walking that router's table, and
for each router passed over it first recomputes the version of every table below it; it does this
twice per request (once to match, once to handle). With some twenty routers under `/api/v1` and as
many pages, that walk was a third of the CPU of a `/healthz` answer (docs/performance.md). A route
added to the application itself is matched by its path's regular expression and nothing else.

The modules keep their own `APIRouter`s (prefix, tags, dependencies), and each of their routes is added
here as it stands: the OpenAPI document, the routes' names and `app.dependency_overrides` stay as they
were with `include_router`."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


def add_routes(app: FastAPI, prefix: str, *routers: APIRouter) -> None:
    """Add every route of `routers` to `app`, under `prefix`, in order (the first match wins)."""
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"{route!r} of {router!r} is not an API route; include its router instead")
            app.router.add_api_route(
                prefix + route.path,
                route.endpoint,
                response_model=route.response_model,
                status_code=route.status_code,
                tags=route.tags,
                dependencies=route.dependencies,
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses=route.responses,
                deprecated=route.deprecated,
                methods=route.methods,
                operation_id=route.operation_id,
                response_model_include=route.response_model_include,
                response_model_exclude=route.response_model_exclude,
                response_model_by_alias=route.response_model_by_alias,
                response_model_exclude_unset=route.response_model_exclude_unset,
                response_model_exclude_defaults=route.response_model_exclude_defaults,
                response_model_exclude_none=route.response_model_exclude_none,
                include_in_schema=route.include_in_schema,
                response_class=route.response_class,
                name=route.name,
                callbacks=route.callbacks,
                openapi_extra=route.openapi_extra,
                generate_unique_id_function=route.generate_unique_id_function,
                strict_content_type=route.strict_content_type,
                max_body_size=route.max_body_size,
                form_limits=route.form_limits,
            )
