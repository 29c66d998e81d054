from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend.http.deps import SessionDep
from backend.services.operations.health import database_problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep) -> JSONResponse:
    """Readiness: the database answers and is migrated."""
    problem = database_problem(session)
    if problem is not None:
        return JSONResponse({"status": "unavailable", "database": problem}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
