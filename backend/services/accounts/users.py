"""Users and organizations: who they are, what they belong to, and logging in."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from backend.domain.access import (
    Principal,
    Role,
    check_membership,
    ensure_admin,
    ensure_sees_organization,
)
from backend.domain.errors import Conflict, Invalid, NotFound
from backend.models.organization import (
    Organization,
    OrganizationCreate,
    OrganizationUpdate,
    OrgKind,
)
from backend.models.platform import Platform
from backend.models.user import User, UserCreate, UserUpdate
from backend.services.accounts.security import hash_password, verify_password
from backend.services.common import get_or_404, page

# --- organizations ---------------------------------------------------------------------------


def create_organization(session: Session, who: Principal | None, data: OrganizationCreate) -> Organization:
    if who is not None:
        ensure_admin(who)
    if session.exec(select(Organization).where(Organization.code == data.code)).first():
        raise Conflict(f"code: an organization with code {data.code!r} exists already")
    if (
        data.credit_code
        and session.exec(select(Organization).where(Organization.credit_code == data.credit_code)).first()
    ):
        raise Conflict(f"credit_code: {data.credit_code} is registered to another organization")
    org = Organization.model_validate(data)
    session.add(org)
    session.flush()
    return org


def list_organizations(
    session: Session, who: Principal, kind: OrgKind | None, q: str | None, offset: int, limit: int
) -> tuple[list[Organization], int]:
    statement = select(Organization).order_by(col(Organization.id))
    if who.role is Role.sme:
        statement = statement.where(Organization.id == who.organization_id)
    if kind is not None:
        statement = statement.where(Organization.kind == kind)
    if q:
        like = f"%{q}%"
        statement = statement.where(
            or_(
                col(Organization.name).ilike(like),
                col(Organization.name_en).ilike(like),
                col(Organization.code).ilike(like),
            )
        )
    return page(session, statement, offset, limit)


def get_organization(session: Session, who: Principal, org_id: int) -> Organization:
    org = get_or_404(session, Organization, org_id, "organization")
    ensure_sees_organization(who, org.id)
    return org


def update_organization(
    session: Session, who: Principal, org_id: int, data: OrganizationUpdate
) -> Organization:
    ensure_admin(who)
    org = get_or_404(session, Organization, org_id, "organization")
    org.sqlmodel_update(data.model_dump(exclude_unset=True))
    session.add(org)
    session.flush()
    return org


def delete_organization(session: Session, who: Principal, org_id: int) -> None:
    ensure_admin(who)
    org = get_or_404(session, Organization, org_id, "organization")
    if session.exec(select(User).where(User.organization_id == org_id)).first():
        raise Conflict("organization still has users; deactivate or move them first")
    session.delete(org)
    session.flush()


def organization_by_code(session: Session, code: str) -> Organization:
    org = session.exec(select(Organization).where(Organization.code == code)).first()
    if org is None:
        raise NotFound(f"organization {code!r} does not exist")
    return org


# --- users -----------------------------------------------------------------------------------


def _check_links(session: Session, role: Role, organization_id: int | None, platform_id: int | None) -> None:
    problem = check_membership(role, organization_id, platform_id)
    if problem:
        field, _, message = problem.partition(": ")
        raise Invalid(field, message)
    if organization_id is not None:
        org = session.get(Organization, organization_id)
        if org is None:
            raise Invalid("organization_id", f"organization {organization_id} does not exist")
        if role is Role.sme and org.kind != OrgKind.sme:
            raise Invalid("organization_id", f"{org.code} is not an SME organization")
    if platform_id is not None and session.get(Platform, platform_id) is None:
        raise Invalid("platform_id", f"platform {platform_id} does not exist")


def create_user(session: Session, who: Principal | None, data: UserCreate) -> User:
    """`who` is None for the command line, which acts with the machine owner's authority."""
    if who is not None:
        ensure_admin(who)
    email = data.email.lower()
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"email: a user with e-mail {email} exists already")
    _check_links(session, data.role, data.organization_id, data.platform_id)
    user = User.model_validate(data, update={"email": email, "hashed_password": hash_password(data.password)})
    session.add(user)
    session.flush()
    return user


def list_users(
    session: Session,
    who: Principal,
    role: Role | None,
    organization_id: int | None,
    q: str | None,
    offset: int,
    limit: int,
) -> tuple[list[User], int]:
    statement = select(User).order_by(col(User.id))
    if who.role is Role.sme:
        statement = statement.where(User.organization_id == who.organization_id)
    if role is not None:
        statement = statement.where(User.role == role)
    if organization_id is not None:
        statement = statement.where(User.organization_id == organization_id)
    if q:
        like = f"%{q}%"
        statement = statement.where(or_(col(User.email).ilike(like), col(User.full_name).ilike(like)))
    return page(session, statement, offset, limit)


def get_user(session: Session, who: Principal, user_id: int) -> User:
    user = get_or_404(session, User, user_id, "user")
    if user.id != who.user_id:
        ensure_sees_organization(who, user.organization_id)
    return user


def update_user(session: Session, who: Principal, user_id: int, data: UserUpdate) -> User:
    ensure_admin(who)
    user = get_or_404(session, User, user_id, "user")
    changes = data.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    user.sqlmodel_update(changes)
    _check_links(session, Role(user.role), user.organization_id, user.platform_id)
    if password:
        user.hashed_password = hash_password(password)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.is_active or not verify_password(password, user.hashed_password):
        return None
    return user
