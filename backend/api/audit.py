from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from backend.domain.audit import Verdict
from backend.domain.errors import Invalid
from backend.http.deps import Caller, EngineDep, Limit, Offset, SessionDep
from backend.models.audit import AuditEvent, AuditEventPublic, AuditVerification, BadRowPublic
from backend.models.common import Id, Moment, Page
from backend.services import audit as service

router = APIRouter(prefix="/audit", tags=["audit"])


def event_public(row: AuditEvent) -> AuditEventPublic:
    return AuditEventPublic(**row.model_dump(exclude={"payload"}), payload=service.payload_of(row))


def verification_public(verdict: Verdict) -> AuditVerification:
    bad = verdict.first_bad
    return AuditVerification(
        ok=verdict.ok,
        events=verdict.events,
        head_seq=verdict.head.seq,
        head_hash=verdict.head.hash,
        first_bad=None
        if bad is None
        else BadRowPublic(expected_seq=bad.expected_seq, seq=bad.seq, reason=bad.reason),
    )


@router.get("/events", response_model=Page[AuditEventPublic])
def list_events(
    session: SessionDep,
    who: Caller,
    subject: Annotated[str | None, Query(description="type (booking) or type:id (booking:42)")] = None,
    action: Annotated[str | None, Query(description="e.g. booking.approve, rate.create")] = None,
    actor: Annotated[str | None, Query(description="user:{id} or system")] = None,
    start: Annotated[Moment | None, Query(alias="from", description="events at or after (with zone)")] = None,
    end: Annotated[Moment | None, Query(alias="to", description="events before (with zone)")] = None,
    platform_id: Id | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[AuditEventPublic]:
    """The audit chain in order. Auditors and admins read every event, operators their platform's."""
    if start is not None and end is not None and end <= start:
        raise Invalid("to", "must be after from")
    rows, count = service.list_events(
        session,
        who,
        subject=subject,
        action=action,
        actor=actor,
        start=start,
        end=end,
        platform_id=platform_id,
        offset=offset,
        limit=limit,
    )
    return Page(data=[event_public(r) for r in rows], count=count)


@router.get("/verify", response_model=AuditVerification)
async def verify(engine: EngineDep, who: Caller) -> AuditVerification:
    """Recompute every hash of the chain and compare its end with the recorded head; `first_bad` names
    the first row that does not fit (see docs/audit.md)."""
    service.ensure_may_read(who)
    return verification_public(await run_in_threadpool(service.verify_chain, engine))
