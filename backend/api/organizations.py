from __future__ import annotations

from fastapi import APIRouter, status

from backend.http.deps import Caller, Limit, Offset, SearchText, SessionDep
from backend.models.common import Id, Page
from backend.models.organization import (
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
    OrgKind,
)
from backend.services.accounts import users as service

router = APIRouter(prefix="/organizations", tags=["organizations"])


@router.get("", response_model=Page[OrganizationPublic])
def list_organizations(
    session: SessionDep,
    who: Caller,
    kind: OrgKind | None = None,
    q: SearchText = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[OrganizationPublic]:
    rows, count = service.list_organizations(session, who, kind, q, offset, limit)
    return Page(data=[OrganizationPublic.model_validate(r) for r in rows], count=count)


@router.post("", response_model=OrganizationPublic, status_code=status.HTTP_201_CREATED)
def create_organization(session: SessionDep, who: Caller, data: OrganizationCreate) -> OrganizationPublic:
    return OrganizationPublic.model_validate(service.create_organization(session, who, data))


@router.get("/{org_id}", response_model=OrganizationPublic)
def get_organization(session: SessionDep, who: Caller, org_id: Id) -> OrganizationPublic:
    return OrganizationPublic.model_validate(service.get_organization(session, who, org_id))


@router.patch("/{org_id}", response_model=OrganizationPublic)
def update_organization(
    session: SessionDep, who: Caller, org_id: Id, data: OrganizationUpdate
) -> OrganizationPublic:
    return OrganizationPublic.model_validate(service.update_organization(session, who, org_id, data))


@router.delete("/{org_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_organization(session: SessionDep, who: Caller, org_id: Id) -> None:
    service.delete_organization(session, who, org_id)
