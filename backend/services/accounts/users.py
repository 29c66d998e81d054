"""Users and organizations: who they are, what they belong to, and logging in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, or_, union
from sqlmodel import Session, col, select

from backend.domain.access import (
    NOBODY,
    Principal,
    Role,
    check_membership,
    ensure_admin,
    ensure_sees_organization,
)
from backend.domain.errors import Conflict, Invalid, NotFound
from backend.models.booking import Booking
from backend.models.organization import (
    Organization,
    OrganizationCreate,
    OrganizationUpdate,
    OrgKind,
)
from backend.models.platform import Platform
from backend.models.qualification import Qualification
from backend.models.quota import Quota
from backend.models.resource import Resource
from backend.models.user import User, UserCreate, UserUpdate
from backend.models.waitlist import WaitlistEntry
from backend.services.accounts.security import end_tokens, hash_password
from backend.services.common import apply_changes, get_or_404, page

# --- who an operator's platform serves --------------------------------------------------------


def _platform_of(who: Principal) -> int:
    return who.platform_id if who.platform_id is not None else NOBODY


def organizations_served_by(platform_id: int) -> Any:
    """Ids of the organizations a platform serves: they booked or wait there, have members qualified on
    its resources or a quota there, or own it. As far as an operator sees organizations."""
    on_platform = col(Resource.platform_id) == platform_id
    return union(
        select(Booking.organization_id).where(Booking.platform_id == platform_id),
        select(WaitlistEntry.organization_id).join(Resource).where(on_platform),
        select(Quota.organization_id).where(Quota.platform_id == platform_id),
        select(User.organization_id)
        .join(Qualification, col(Qualification.user_id) == col(User.id))
        .join(Resource, col(Resource.id) == col(Qualification.resource_id))
        .where(on_platform),
        select(Platform.owner_org_id).where(Platform.id == platform_id),
    )


def users_served_by(platform_id: int) -> Any:
    """Ids of the people a platform deals with: its staff, and whoever booked, waits or is qualified
    there. As far as an operator sees users (and their e-mail addresses)."""
    on_platform = col(Resource.platform_id) == platform_id
    return union(
        select(User.id).where(User.platform_id == platform_id),
        select(Booking.user_id).where(Booking.platform_id == platform_id),
        select(WaitlistEntry.user_id).join(Resource).where(on_platform),
        select(Qualification.user_id).join(Resource).where(on_platform),
    )


def _operator_serves(session: Session, who: Principal, served: Any, ident: int | None) -> bool:
    """Whether `who` is an operator whose platform serves `ident` (`served`: one of the queries above)."""
    if who.role is not Role.operator or ident is None:
        return False
    return (
        session.exec(select(literal(1)).where(literal(ident).in_(served(_platform_of(who))))).first()
        is not None
    )


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
    if who.role is Role.operator:
        statement = statement.where(col(Organization.id).in_(organizations_served_by(_platform_of(who))))
    if kind is not None:
        statement = statement.where(Organization.kind == kind)
    if q:
        statement = statement.where(
            or_(
                col(Organization.name).icontains(q, autoescape=True),
                col(Organization.name_en).icontains(q, autoescape=True),
                col(Organization.code).icontains(q, autoescape=True),
            )
        )
    return page(session, statement, offset, limit)


def get_organization(session: Session, who: Principal, org_id: int) -> Organization:
    org = get_or_404(session, Organization, org_id, "organization")
    ensure_sees_organization(who, org.id, _operator_serves(session, who, organizations_served_by, org.id))
    return org


def update_organization(
    session: Session, who: Principal, org_id: int, data: OrganizationUpdate
) -> Organization:
    ensure_admin(who)
    org = get_or_404(session, Organization, org_id, "organization")
    apply_changes(org, data.model_dump(exclude_unset=True))
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
    if who.role is Role.operator:
        statement = statement.where(
            or_(col(User.id) == who.user_id, col(User.id).in_(users_served_by(_platform_of(who))))
        )
    if role is not None:
        statement = statement.where(User.role == role)
    if organization_id is not None:
        statement = statement.where(User.organization_id == organization_id)
    if q:
        statement = statement.where(
            or_(
                col(User.email).icontains(q, autoescape=True),
                col(User.full_name).icontains(q, autoescape=True),
            )
        )
    return page(session, statement, offset, limit)


def get_user(session: Session, who: Principal, user_id: int) -> User:
    user = get_or_404(session, User, user_id, "user")
    if user.id != who.user_id:
        served = _operator_serves(session, who, users_served_by, user.id)
        ensure_sees_organization(who, user.organization_id, served)
    return user


def update_user(session: Session, who: Principal, user_id: int, data: UserUpdate) -> User:
    """Admins change users. A new password or a deactivation ends every token the user holds; the last
    active administrator can be neither demoted nor deactivated."""
    ensure_admin(who)
    user = get_or_404(session, User, user_id, "user")
    was_admin = user.role == Role.admin and user.is_active
    changes = data.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    apply_changes(user, changes)
    _check_links(session, Role(user.role), user.organization_id, user.platform_id)
    if was_admin and not (user.role == Role.admin and user.is_active):
        _keep_an_admin(session, user)
    if password:
        user.hashed_password = hash_password(password)
    if password or not user.is_active:
        end_tokens(user)
    session.add(user)
    session.flush()
    return user


def _keep_an_admin(session: Session, leaving: User) -> None:
    """Refuses to let `leaving` stop being an active admin when no other active admin remains. The other
    admins' rows are locked (PostgreSQL) so that two admins demoting each other cannot both succeed;
    SQLite runs writers one at a time (the route uses the writer)."""
    others = session.exec(
        select(User.id)
        .where(User.role == Role.admin, col(User.is_active), User.id != leaving.id)
        .with_for_update()
    ).all()
    if not others:
        field = "is_active" if not leaving.is_active else "role"
        raise Conflict(f"{field}: at least one active administrator must remain; appoint another first")
