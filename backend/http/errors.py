"""How the HTTP delivery layers answer errors: one JSON shape, `{"detail": "field: what is wrong", ...}`,
and the one place where a domain error becomes an HTTP status."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from backend.domain.errors import (
    AccessDenied,
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    Throttled,
    Unavailable,
)
from backend.logs import get_logger

log = get_logger("pilotshare.http")

STATUS_OF: dict[type[DomainError], int] = {
    NotFound: 404,
    AccessDenied: 403,
    Conflict: 409,
    Invalid: 422,
    Unavailable: 503,
    Throttled: 429,
}


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error: its own class's, else its nearest ancestor's, else 400."""
    for kind in type(exc).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 400


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


_FIELD_FIRST = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): (.+)$", re.DOTALL)


def _within(path: str, field: str) -> bool:
    return path == field or path.startswith((f"{field}.", f"{field}["))


def named_error(loc: tuple[int | str, ...], message: str) -> dict[str, str]:
    """`{"field", "message"}`; a check across fields says which field it blames as "field: message"."""
    message = message.removeprefix("Value error, ")
    field = _where(loc)
    blamed = _FIELD_FIRST.match(message)
    if blamed and (field == "request" or _within(blamed.group(1), field)):
        # "opening_hours.mon[0]: ..." about the field `opening_hours`: its own, more precise name.
        field, message = blamed.group(1), blamed.group(2)
    return {"field": field, "message": message}


def _message(error: Any) -> str:
    if error.get("type") == "extra_forbidden":
        return "not a field this request accepts (unknown, or not one that can be changed here)"
    return str(error.get("msg", ""))


def install_error_handlers(app: FastAPI) -> None:
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            describe_errors(build_openapi())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
        return JSONResponse(
            {"detail": exc.message, **exc.details}, status_code=status_of(exc), headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [named_error(tuple(e.get("loc", ())), _message(e)) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced past the use case's own check and the database kept the rule. Its message
        # names tables and constraints, which are ours to read, not the caller's: log it, answer plainly.
        log.warning("http.integrity_error", error=str(exc.orig).splitlines()[0] if exc.orig else None)
        return JSONResponse(
            {"detail": "conflicts with data that was changed at the same time; reload and try again"},
            status_code=409,
        )


# --- what the OpenAPI document says about errors ------------------------------------------------

_ERROR = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "field: what is wrong"}},
    "additionalProperties": True,
}
_FIELD_ERROR = {
    "title": "FieldError",
    "type": "object",
    "required": ["field", "message"],
    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
}
_VALIDATION_ERROR = {
    "title": "ValidationErrors",
    "description": "`detail` joins every `field: message`; a rule across fields may come without `errors`",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
    "additionalProperties": True,
}
_STATUS_TEXT = {
    401: "not logged in, or the token has ended",
    403: "the caller may not do this",
    404: "no such object (or not one the caller may see)",
    409: "conflicts with the current state",
    422: "bad input; `errors` names each field",
    429: "too many attempts; try again after `Retry-After` seconds",
}


def _response(code: int) -> dict[str, Any]:
    schema = "ValidationErrors" if code == 422 else "Error"
    return {
        "description": _STATUS_TEXT[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def describe_errors(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document made true about errors: FastAPI describes 422 bodies in its own shape
    (`detail` as a list), not the one `install_error_handlers` sends; and the statuses the error
    mapping gives (401, 403, 404, 409, 422) are listed where they can happen."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(Error=_ERROR, FieldError=_FIELD_ERROR, ValidationErrors=_VALIDATION_ERROR)
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            codes = {422}
            if operation.get("security"):
                codes |= {401, 403}
            if operation.get("parameters") or "requestBody" in operation:
                codes.add(404)  # an id or code that names nothing (path, filter or body)
            if method != "get":
                codes |= {403, 404, 409}
            responses = operation.setdefault("responses", {})
            codes |= {int(code) for code in responses if int(code) in _STATUS_TEXT}
            for code in sorted(codes):
                described = responses.get(str(code), {}).get("description", _STATUS_TEXT[code])
                responses[str(code)] = _response(code) | {"description": described}
    return document
