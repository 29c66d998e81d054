from __future__ import annotations

from fastapi import APIRouter, status

from backend.http.deps import Caller, Limit, Offset, SessionDep
from backend.models.common import Id, Page
from backend.models.qualification import QualificationCreate, QualificationPublic, QualificationUpdate
from backend.services.catalog import qualifications as service

router = APIRouter(prefix="/qualifications", tags=["qualifications"])


@router.get("", response_model=Page[QualificationPublic])
def list_qualifications(
    session: SessionDep,
    who: Caller,
    user_id: Id | None = None,
    resource_id: Id | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[QualificationPublic]:
    rows, count = service.list_qualifications(session, who, user_id, resource_id, offset, limit)
    return Page(data=[service.to_public(q) for q in rows], count=count)


@router.post("", response_model=QualificationPublic, status_code=status.HTTP_201_CREATED)
def grant(session: SessionDep, who: Caller, data: QualificationCreate) -> QualificationPublic:
    return service.to_public(service.grant(session, who, data))


@router.patch("/{qualification_id}", response_model=QualificationPublic)
def update_qualification(
    session: SessionDep, who: Caller, qualification_id: Id, data: QualificationUpdate
) -> QualificationPublic:
    return service.to_public(service.update_qualification(session, who, qualification_id, data))


@router.delete("/{qualification_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke(session: SessionDep, who: Caller, qualification_id: Id) -> None:
    service.revoke(session, who, qualification_id)
