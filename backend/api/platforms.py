from __future__ import annotations

from fastapi import APIRouter, status

from backend.http.deps import Caller, City, Limit, Offset, SearchText, SessionDep
from backend.models.common import Id, Page
from backend.models.platform import PlatformCreate, PlatformPublic, PlatformUpdate
from backend.models.quota import Quota, QuotaSet
from backend.services.catalog import platforms as service

router = APIRouter(prefix="/platforms", tags=["platforms"])


@router.get("", response_model=Page[PlatformPublic])
def list_platforms(
    session: SessionDep, city: City = None, q: SearchText = None, offset: Offset = 0, limit: Limit = 50
) -> Page[PlatformPublic]:
    """The public catalog: anyone may browse platforms (the programme asks platforms to publish them)."""
    rows, count = service.list_platforms(session, city, q, offset, limit)
    return Page(data=[PlatformPublic.model_validate(r) for r in rows], count=count)


@router.post("", response_model=PlatformPublic, status_code=status.HTTP_201_CREATED)
def create_platform(session: SessionDep, who: Caller, data: PlatformCreate) -> PlatformPublic:
    return PlatformPublic.model_validate(service.create_platform(session, who, data))


@router.get("/{platform_id}", response_model=PlatformPublic)
def get_platform(session: SessionDep, platform_id: Id) -> PlatformPublic:
    return PlatformPublic.model_validate(service.get_platform(session, platform_id))


@router.patch("/{platform_id}", response_model=PlatformPublic)
def update_platform(
    session: SessionDep, who: Caller, platform_id: Id, data: PlatformUpdate
) -> PlatformPublic:
    return PlatformPublic.model_validate(service.update_platform(session, who, platform_id, data))


@router.delete("/{platform_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_platform(session: SessionDep, who: Caller, platform_id: Id) -> None:
    service.delete_platform(session, who, platform_id)


@router.get("/{platform_id}/quotas", response_model=list[Quota])
def list_quotas(session: SessionDep, who: Caller, platform_id: Id) -> list[Quota]:
    """Monthly booking quotas per organization (the platform's `default_quota_hours` applies to the rest)."""
    return service.list_quotas(session, who, platform_id)


@router.put("/{platform_id}/quotas", response_model=Quota)
def set_quota(session: SessionDep, who: Caller, platform_id: Id, data: QuotaSet) -> Quota:
    return service.set_quota(session, who, platform_id, data.organization_id, data.hours_per_month)
