"""The operator's approval inbox: the queue of requests with what deciding each one needs at hand
(who asks, for what, the hazard declaration, whether the requester is qualified, the SLA clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlmodel import Session, col, select

from backend.domain.access import Principal
from backend.models.booking import BookingPublic
from backend.models.organization import Organization
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.models.user import User
from backend.services.bookings.presentation import to_public
from backend.services.bookings.queries import approval_queue
from backend.services.catalog.qualifications import is_qualified

Row = TypeVar("Row", Organization, User, Resource)


@dataclass(frozen=True)
class InboxItem:
    booking: BookingPublic
    organization: Organization | None
    requester: str
    resource: Resource | None
    #: None when the resource asks for no qualification (or the request names no resource yet)
    qualified: bool | None
    minutes_left: int | None
    overdue: bool


def inbox(
    session: Session, who: Principal, platform_id: int | None, now: datetime | None = None
) -> list[InboxItem]:
    """The approval queue, overdue requests first, then the queue's own order (green channel first,
    then the nearest SLA deadline)."""
    now = now or utcnow()
    rows = approval_queue(session, who, platform_id)
    public = to_public(session, rows)
    orgs = _by_id(session, Organization, {b.organization_id for b in rows if b.organization_id})
    users = _by_id(session, User, {b.user_id for b in rows})
    resources = _by_id(session, Resource, {b.resource_id for b in rows if b.resource_id})
    items = []
    for booking, shown in zip(rows, public, strict=True):
        resource = resources.get(booking.resource_id or 0)
        qualified = None
        if resource is not None and resource.requires_qualification:
            qualified = is_qualified(session, booking.user_id, resource.id or 0)
        left = (booking.sla_due_at - now).total_seconds() / 60 if booking.sla_due_at else None
        user = users.get(booking.user_id)
        items.append(
            InboxItem(
                booking=shown,
                organization=orgs.get(booking.organization_id or 0),
                requester=user.full_name if user else "",
                resource=resource,
                qualified=qualified,
                minutes_left=None if left is None else int(left),
                overdue=left is not None and left < 0,
            )
        )
    return sorted(items, key=lambda i: not i.overdue)  # stable: the queue's order within each group


def _by_id(session: Session, table: type[Row], ids: set[int]) -> dict[int, Row]:
    if not ids:
        return {}
    rows = session.exec(select(table).where(col(table.id).in_(ids)))
    return {row.id or 0: row for row in rows}
