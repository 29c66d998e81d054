from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep) -> JSONResponse:
    """Readiness: the database answers and is migrated."""
    try:
        session.exec(text("SELECT 1 FROM alembic_version"))  # type: ignore[call-overload]
    except Exception as exc:  # any database failure means "not ready", with the reason
        return JSONResponse({"status": "unavailable", "database": str(exc).splitlines()[0]}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
