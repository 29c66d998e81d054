"""Who may do what. Pure rules over a `Principal`, shared by every service.

- admin: everything.
- operator: manages the catalog, qualifications and requests of one platform; sees the people and
  organizations its platform serves (they booked, wait, are qualified or have a quota there), not others.
- sme: a member of one SME organization; sees that organization's private data only.
- auditor: reads everything, writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.domain.errors import AccessDenied


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    sme = "sme"
    auditor = "auditor"


@dataclass(frozen=True)
class Principal:
    user_id: int
    role: Role
    organization_id: int | None = None
    platform_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def ensure_can_write(who: Principal) -> None:
    if who.role is Role.auditor:
        raise AccessDenied("auditors have read-only access")


def ensure_admin(who: Principal) -> None:
    if not who.is_admin:
        raise AccessDenied("only an administrator may do this")


def can_manage_platform(who: Principal, platform_id: int) -> bool:
    return who.is_admin or (who.role is Role.operator and who.platform_id == platform_id)


def ensure_manages_platform(who: Principal, platform_id: int) -> None:
    ensure_can_write(who)
    if not can_manage_platform(who, platform_id):
        raise AccessDenied("only an operator of this platform (or an administrator) may change it")


def can_see_organization(who: Principal, organization_id: int | None, served: bool = False) -> bool:
    """Private data of an organization (members, qualifications, bookings and invoices). `served`: the
    caller's platform serves the organization (booked, waiting, qualified or given a quota there),
    which is as far as an operator's work reaches."""
    if who.role in (Role.admin, Role.auditor):
        return True
    if who.role is Role.operator:
        return served
    return organization_id is not None and who.organization_id == organization_id


def ensure_sees_organization(who: Principal, organization_id: int | None, served: bool = False) -> None:
    if not can_see_organization(who, organization_id, served):
        raise AccessDenied("this belongs to another organization")


def ensure_reads_platform(who: Principal, platform_id: int) -> None:
    """Platform-private records (quotas, webhooks, queues): its staff, admins and auditors."""
    if who.role is Role.operator and who.platform_id != platform_id:
        raise AccessDenied("this belongs to another platform")


NOBODY = -1  # an id no row has: a scope that names it lets nothing through


@dataclass(frozen=True)
class ReadScope:
    """The tenant rows a caller may read: everything (both None), one platform's, or one organization's."""

    platform_id: int | None = None
    organization_id: int | None = None


def read_scope(who: Principal) -> ReadScope:
    """Operators read their platform's rows, SMEs their organization's, admins and auditors every row."""
    if who.role is Role.operator:
        return ReadScope(platform_id=who.platform_id if who.platform_id is not None else NOBODY)
    if who.role is Role.sme:
        return ReadScope(organization_id=who.organization_id if who.organization_id is not None else NOBODY)
    return ReadScope()


def can_see_tenant_row(who: Principal, platform_id: int | None, organization_id: int | None) -> bool:
    """One row of `read_scope`: a booking, an invoice, a usage session."""
    scope = read_scope(who)
    if scope.platform_id is not None and scope.platform_id != platform_id:
        return False
    return scope.organization_id is None or scope.organization_id == organization_id


def ensure_sees_booking(
    who: Principal, platform_id: int, organization_id: int | None, requester_id: int | None
) -> None:
    """Staff of its platform, admins and auditors, the requester's organization, and the requester."""
    if who.user_id == requester_id or can_see_tenant_row(who, platform_id, organization_id):
        return
    raise AccessDenied("this booking belongs to another organization")


def ensure_not_sme(who: Principal, what: str) -> None:
    """Platform-wide records (audit log, reports, alarms, optimizer runs) are not for SMEs."""
    if who.role is Role.sme:
        raise AccessDenied(f"{what} are for platform operators, auditors and administrators")


def check_membership(role: Role, organization_id: int | None, platform_id: int | None) -> str | None:
    """What is missing for a user of `role`, or None when the combination is sound."""
    if role is Role.operator and platform_id is None:
        return "platform_id: an operator belongs to one platform"
    if role is Role.sme and organization_id is None:
        return "organization_id: an SME user belongs to one SME organization"
    if role is not Role.operator and platform_id is not None:
        return "platform_id: only operators are attached to a platform"
    return None
