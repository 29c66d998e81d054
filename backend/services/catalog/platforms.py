"""Platforms: the pilot bases that publish resources."""

from __future__ import annotations

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.domain.access import (
    Principal,
    Role,
    ensure_admin,
    ensure_manages_platform,
    ensure_reads_platform,
)
from backend.domain.errors import Conflict, Invalid, NotFound
from backend.models.organization import Organization
from backend.models.platform import Platform, PlatformCreate, PlatformUpdate
from backend.models.quota import Quota
from backend.models.resource import Resource
from backend.services.common import apply_changes, get_or_404, page


def create_platform(session: Session, who: Principal | None, data: PlatformCreate) -> Platform:
    if who is not None:
        ensure_admin(who)
    if session.exec(select(Platform).where(Platform.code == data.code)).first():
        raise Conflict(f"code: a platform with code {data.code!r} exists already")
    if data.owner_org_id is not None and session.get(Organization, data.owner_org_id) is None:
        raise Invalid("owner_org_id", f"organization {data.owner_org_id} does not exist")
    platform = Platform.model_validate(data)
    session.add(platform)
    session.flush()
    return platform


def list_platforms(
    session: Session, city: str | None, q: str | None, offset: int, limit: int
) -> tuple[list[Platform], int]:
    statement = select(Platform).order_by(col(Platform.id))
    if city:
        statement = statement.where(
            or_(col(Platform.city) == city, func.lower(col(Platform.city_en)) == city.lower())
        )
    if q:
        statement = statement.where(
            or_(
                col(Platform.name).icontains(q, autoescape=True),
                col(Platform.name_en).icontains(q, autoescape=True),
                col(Platform.industry).icontains(q, autoescape=True),
                col(Platform.industry_en).icontains(q, autoescape=True),
                col(Platform.code).icontains(q, autoescape=True),
            )
        )
    return page(session, statement, offset, limit)


def get_platform(session: Session, platform_id: int) -> Platform:
    return get_or_404(session, Platform, platform_id, "platform")


def platform_by_code(session: Session, code: str) -> Platform:
    platform = session.exec(select(Platform).where(Platform.code == code)).first()
    if platform is None:
        raise NotFound(f"platform {code!r} does not exist")
    return platform


def update_platform(session: Session, who: Principal, platform_id: int, data: PlatformUpdate) -> Platform:
    platform = get_platform(session, platform_id)
    ensure_manages_platform(who, platform_id)
    changes = data.model_dump(exclude_unset=True)
    if "owner_org_id" in changes:
        ensure_admin(who)
    apply_changes(platform, changes)
    session.add(platform)
    session.flush()
    return platform


def delete_platform(session: Session, who: Principal, platform_id: int) -> None:
    ensure_admin(who)
    platform = get_platform(session, platform_id)
    if session.exec(select(Resource).where(Resource.platform_id == platform_id)).first():
        raise Conflict("platform still has resources; retire or delete them first")
    session.delete(platform)
    session.flush()


def set_quota(
    session: Session, who: Principal, platform_id: int, organization_id: int, hours: float | None
) -> Quota:
    """Hours per month an organization may book here; None lifts the limit for it."""
    get_platform(session, platform_id)
    ensure_manages_platform(who, platform_id)
    if session.get(Organization, organization_id) is None:
        raise Invalid("organization_id", f"organization {organization_id} does not exist")
    quota = session.exec(
        select(Quota).where(Quota.platform_id == platform_id, Quota.organization_id == organization_id)
    ).first() or Quota(platform_id=platform_id, organization_id=organization_id)
    quota.hours_per_month = hours
    session.add(quota)
    session.flush()
    return quota


def list_quotas(session: Session, who: Principal, platform_id: int) -> list[Quota]:
    """The platform's staff, admins and auditors read every quota; an SME only its own organization's."""
    get_platform(session, platform_id)
    ensure_reads_platform(who, platform_id)
    statement = select(Quota).where(Quota.platform_id == platform_id).order_by(col(Quota.organization_id))
    if who.role is Role.sme:
        statement = statement.where(Quota.organization_id == who.organization_id)
    return list(session.exec(statement))
