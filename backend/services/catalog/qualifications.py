"""Qualifications: training records that gate who may book which resource."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.domain.access import Principal, Role, ensure_can_write, ensure_manages_platform
from backend.domain.errors import Conflict, Invalid
from backend.models.qualification import (
    Qualification,
    QualificationCreate,
    QualificationPublic,
    QualificationUpdate,
)
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.models.user import User
from backend.services import audit
from backend.services.catalog.resources import get_resource
from backend.services.common import apply_changes, get_or_404, page


def to_public(q: Qualification) -> QualificationPublic:
    valid = q.expires_at is None or q.expires_at > utcnow()
    return QualificationPublic.model_validate(q, update={"valid": valid})


def _audit(session: Session, who: Principal, action: str, q: Qualification, platform_id: int) -> None:
    """Who may use which instrument, granted or taken away by whom: evidence for the evaluation."""
    audit.append(
        session,
        f"qualification.{action}",
        ("qualification", q.id or 0),
        actor=who.user_id,
        platform_id=platform_id,
        payload={
            "user_id": q.user_id,
            "resource_id": q.resource_id,
            "expires_at": q.expires_at,
            "note": q.note,
        },
    )


def grant(session: Session, who: Principal, data: QualificationCreate) -> Qualification:
    ensure_can_write(who)
    resource = get_resource(session, data.resource_id)
    ensure_manages_platform(who, resource.platform_id)
    user = session.get(User, data.user_id)
    if user is None:
        raise Invalid("user_id", f"user {data.user_id} does not exist")
    if data.expires_at is not None and data.expires_at.tzinfo is None:
        raise Invalid("expires_at", "give a time zone, e.g. 2027-06-30T23:59:59+08:00")
    existing = session.exec(
        select(Qualification).where(
            Qualification.user_id == data.user_id, Qualification.resource_id == data.resource_id
        )
    ).first()
    if existing:
        raise Conflict(
            f"user {user.email} is already qualified for {resource.code}; update qualification {existing.id}",
            existing=existing.id,
        )
    qualification = Qualification.model_validate(data, update={"granted_by_id": who.user_id})
    session.add(qualification)
    session.flush()
    _audit(session, who, "grant", qualification, resource.platform_id)
    return qualification


def list_qualifications(
    session: Session,
    who: Principal,
    user_id: int | None,
    resource_id: int | None,
    offset: int,
    limit: int,
) -> tuple[list[Qualification], int]:
    statement = select(Qualification).order_by(col(Qualification.id))
    if who.role is Role.sme:
        members = select(User.id).where(User.organization_id == who.organization_id)
        statement = statement.where(col(Qualification.user_id).in_(members))
    if who.role is Role.operator:
        own = select(Resource.id).where(Resource.platform_id == who.platform_id)
        statement = statement.where(col(Qualification.resource_id).in_(own))
    if user_id is not None:
        statement = statement.where(Qualification.user_id == user_id)
    if resource_id is not None:
        statement = statement.where(Qualification.resource_id == resource_id)
    return page(session, statement, offset, limit)


def _managed(session: Session, who: Principal, qualification_id: int) -> tuple[Qualification, int]:
    """The qualification and the platform it belongs to, if `who` manages that platform."""
    qualification = get_or_404(session, Qualification, qualification_id, "qualification")
    resource = session.get(Resource, qualification.resource_id)
    assert resource is not None  # foreign key
    ensure_manages_platform(who, resource.platform_id)
    return qualification, resource.platform_id


def update_qualification(
    session: Session, who: Principal, qualification_id: int, data: QualificationUpdate
) -> Qualification:
    qualification, platform_id = _managed(session, who, qualification_id)
    apply_changes(qualification, data.model_dump(exclude_unset=True))
    session.add(qualification)
    session.flush()
    _audit(session, who, "update", qualification, platform_id)
    return qualification


def revoke(session: Session, who: Principal, qualification_id: int) -> None:
    qualification, platform_id = _managed(session, who, qualification_id)
    _audit(session, who, "revoke", qualification, platform_id)
    session.delete(qualification)
    session.flush()


def is_qualified(session: Session, user_id: int, resource_id: int) -> bool:
    found = session.exec(
        select(Qualification).where(
            Qualification.user_id == user_id, Qualification.resource_id == resource_id
        )
    ).first()
    return found is not None and (found.expires_at is None or found.expires_at > utcnow())
