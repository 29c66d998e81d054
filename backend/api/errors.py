"""One JSON shape for every error: `{"detail": "field: what is wrong", ...}`."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from backend.domain.errors import DomainError


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


_FIELD_FIRST = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): (.+)$", re.DOTALL)


def _named(loc: tuple[int | str, ...], message: str) -> dict[str, str]:
    """`{"field", "message"}`; a check across fields says which field it blames as "field: message"."""
    message = message.removeprefix("Value error, ")
    field = _where(loc)
    blamed = _FIELD_FIRST.match(message)
    if blamed and field == "request":
        field, message = blamed.group(1), blamed.group(2)
    return {"field": field, "message": message}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.details}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_named(tuple(e.get("loc", ())), str(e.get("msg", ""))) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced past the service's own check; the database kept the rule.
        reason = str(exc.orig).splitlines()[0] if exc.orig else "constraint violated"
        return JSONResponse({"detail": f"conflicts with existing data: {reason}"}, status_code=409)
