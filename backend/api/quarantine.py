"""Telemetry ingest quarantined (samples inside invoiced months) and its review (docs/ingest.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.http.deps import Caller, InfluxDep, Limit, Offset, SessionDep, Writer
from backend.models.common import Id, Page
from backend.models.telemetry_checks import QuarantinedPublic, QuarantineReview
from backend.services.telemetry import quarantine as service

router = APIRouter(tags=["telemetry"])


@router.get("/quarantine", response_model=Page[QuarantinedPublic])
def list_quarantined(
    session: SessionDep,
    who: Caller,
    offset: Offset = 0,
    limit: Limit = 100,
    platform_id: Id | None = None,
    reviewed: Annotated[bool | None, Query(description="false: still waiting for a decision")] = None,
) -> Page[QuarantinedPublic]:
    """Messages ingest held back because their samples fall inside an invoiced month, newest first
    (operators of the platform, auditors, admins)."""
    rows, count = service.list_quarantined(session, who, platform_id, reviewed, offset, limit)
    return Page(data=rows, count=count)


@router.post(
    "/quarantine/{quarantined_id}/review",
    response_model=QuarantinedPublic,
    responses={503: {"description": "release: the telemetry store (InfluxDB) is unreachable"}},
)
def review_quarantined(
    write: Writer, who: Caller, influx: InfluxDep, quarantined_id: Id, body: QuarantineReview
) -> QuarantinedPublic:
    """Decide once: `release` writes the samples into the telemetry store (run data complete, settled
    figures unchanged), `discard` keeps them as evidence only. 409 when already reviewed."""
    with write() as session:
        return service.review(session, influx, who, quarantined_id, body.decision, body.note)
