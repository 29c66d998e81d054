"""Resources of a platform: catalog entries with capabilities, typed attributes, line members
and maintenance windows; search across platforms."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_
from sqlmodel import Session, col, delete, select

from backend.domain.access import Principal, ensure_manages_platform
from backend.domain.catalog import AttributeValue, parse_attribute_filter
from backend.domain.commands import InterlockPolicy
from backend.domain.errors import Conflict, Invalid, NotFound
from backend.models.platform import Platform
from backend.models.resource import (
    MaintenanceWindow,
    MaintenanceWindowCreate,
    Resource,
    ResourceAttribute,
    ResourceCapability,
    ResourceCreate,
    ResourceKind,
    ResourceMember,
    ResourcePublic,
    ResourceStatus,
    ResourceUpdate,
)
from backend.services.common import apply_changes, get_or_404, page
from backend.services.devices import commands

#: Fields of a resource that an update may clear with null (the others always have a value).
NULLABLE = frozenset({"name_en", "description", "device_type", "opening_hours", "auto_approve"})


def get_resource(session: Session, resource_id: int) -> Resource:
    return get_or_404(session, Resource, resource_id, "resource")


def resource_and_platform(session: Session, resource_id: int) -> tuple[Resource, Platform]:
    """A resource and its platform in one round trip (a booking needs both)."""
    row = session.exec(_with_platform(), params={"resource_id": resource_id}).first()
    if row is None:
        raise NotFound(f"resource {resource_id} does not exist")
    resource, platform = row
    return resource, platform


@cache
def _with_platform() -> Any:
    return (
        select(Resource, Platform)
        .join(Platform, col(Platform.id) == Resource.platform_id)
        .where(col(Resource.id) == bindparam("resource_id"))
    )


def _id(resource: Resource) -> int:
    assert resource.id is not None, "flush before using the id"
    return resource.id


def _set_capabilities(session: Session, resource: Resource, tags: list[str]) -> None:
    session.exec(delete(ResourceCapability).where(col(ResourceCapability.resource_id) == resource.id))
    for tag in tags:
        session.add(ResourceCapability(resource_id=_id(resource), tag=tag))


def _set_attributes(session: Session, resource: Resource, attrs: dict[str, AttributeValue]) -> None:
    session.exec(delete(ResourceAttribute).where(col(ResourceAttribute.resource_id) == resource.id))
    for name, value in attrs.items():
        row = ResourceAttribute(
            resource_id=_id(resource), name=name, value_type="text", text_value=str(value)
        )
        if isinstance(value, bool | int | float):
            row.num_value, row.text_value = float(value), None
            row.value_type = "bool" if isinstance(value, bool) else "number"
        session.add(row)


def _set_members(session: Session, resource: Resource, codes: list[str]) -> None:
    if codes and resource.kind != ResourceKind.line:
        raise Invalid("members", "only a resource of kind 'line' is made of other resources")
    session.exec(delete(ResourceMember).where(col(ResourceMember.line_id) == resource.id))
    for code in codes:
        member = session.exec(
            select(Resource).where(Resource.platform_id == resource.platform_id, Resource.code == code)
        ).first()
        if member is None:
            raise Invalid("members", f"no resource {code!r} on this platform")
        if member.kind != ResourceKind.instrument:
            raise Invalid("members", f"{code} is a {member.kind}; a line is made of instruments")
        session.add(ResourceMember(line_id=_id(resource), member_id=_id(member)))


def create_resource(session: Session, who: Principal | None, data: ResourceCreate) -> Resource:
    get_or_404(session, Platform, data.platform_id, "platform")
    if who is not None:
        ensure_manages_platform(who, data.platform_id)
    duplicate = session.exec(
        select(Resource).where(Resource.platform_id == data.platform_id, Resource.code == data.code)
    ).first()
    if duplicate:
        raise Conflict(f"code: this platform already has a resource {data.code!r}")
    resource = Resource.model_validate(data.model_dump(exclude={"capabilities", "attributes", "members"}))
    session.add(resource)
    session.flush()
    _set_capabilities(session, resource, data.capabilities)
    _set_attributes(session, resource, data.attributes)
    _set_members(session, resource, data.members)
    session.flush()
    if who is not None and InterlockPolicy.from_attributes(data.attributes).enabled:
        commands.lock_outside_bookings(session, resource, who.user_id)
    return resource


def update_resource(session: Session, who: Principal, resource_id: int, data: ResourceUpdate) -> Resource:
    resource = get_resource(session, resource_id)
    ensure_manages_platform(who, resource.platform_id)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in NULLABLE:
            raise Invalid(name, "cannot be null; leave it out to keep the current value")
    tags = changes.pop("capabilities", None)
    attrs = changes.pop("attributes", None)
    members = changes.pop("members", None)
    apply_changes(resource, changes)
    session.add(resource)
    if tags is not None:
        _set_capabilities(session, resource, tags)
    if attrs is not None:
        interlocked = InterlockPolicy.from_attributes(attributes_of(session, _id(resource))).enabled
        _set_attributes(session, resource, attrs)
        if not interlocked and InterlockPolicy.from_attributes(attrs).enabled:
            session.flush()
            commands.lock_outside_bookings(session, resource, who.user_id)
    if members is not None:
        _set_members(session, resource, members)
    session.flush()
    return resource


def delete_resource(session: Session, who: Principal, resource_id: int) -> None:
    resource = get_resource(session, resource_id)
    ensure_manages_platform(who, resource.platform_id)
    if session.exec(select(ResourceMember).where(ResourceMember.member_id == resource_id)).first():
        raise Conflict("resource is part of a pilot line; remove it from the line first")
    session.exec(delete(MaintenanceWindow).where(col(MaintenanceWindow.resource_id) == resource_id))
    session.delete(resource)
    session.flush()


def search_resources(
    session: Session,
    *,
    platform: str | None = None,
    city: str | None = None,
    kind: ResourceKind | None = None,
    status: ResourceStatus | None = None,
    capabilities: Sequence[str] = (),
    attributes: Sequence[str] = (),
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Resource], int]:
    statement = select(Resource).join(Platform).order_by(col(Resource.platform_id), col(Resource.code))
    if platform:
        statement = statement.where(Platform.code == platform)
    if city:
        statement = statement.where(
            or_(col(Platform.city) == city, func.lower(col(Platform.city_en)) == city.lower())
        )
    if kind is not None:
        statement = statement.where(Resource.kind == kind)
    if status is not None:
        statement = statement.where(Resource.status == status)
    for tag in capabilities:
        tagged = select(ResourceCapability.resource_id).where(ResourceCapability.tag == tag.strip().lower())
        statement = statement.where(col(Resource.id).in_(tagged))
    for text in attributes:
        try:
            wanted = parse_attribute_filter(text)
        except ValueError as exc:
            raise Invalid("attr", str(exc)) from None
        conditions = [col(ResourceAttribute.name) == wanted.name]
        if wanted.equals is not None:
            try:
                conditions.append(
                    or_(
                        col(ResourceAttribute.text_value) == wanted.equals,
                        col(ResourceAttribute.num_value) == float(wanted.equals),
                    )
                )
            except ValueError:
                conditions.append(col(ResourceAttribute.text_value) == wanted.equals)
        if wanted.low is not None:
            conditions.append(col(ResourceAttribute.num_value) >= wanted.low)
        if wanted.high is not None:
            conditions.append(col(ResourceAttribute.num_value) <= wanted.high)
        matching = select(ResourceAttribute.resource_id).where(and_(*conditions))
        statement = statement.where(col(Resource.id).in_(matching))
    if q:
        q = q.strip()
        tagged = select(ResourceCapability.resource_id).where(
            col(ResourceCapability.tag).icontains(q, autoescape=True)
        )
        statement = statement.where(
            or_(
                col(Resource.name).icontains(q, autoescape=True),
                col(Resource.name_en).icontains(q, autoescape=True),
                col(Resource.code).icontains(q, autoescape=True),
                col(Resource.description).icontains(q, autoescape=True),
                col(Resource.id).in_(tagged),
            )
        )
    return page(session, statement, offset, limit)


def to_public(session: Session, resources: Sequence[Resource]) -> list[ResourcePublic]:
    """Public views with tags, attributes and members, loaded in four queries whatever the count."""
    ids = [r.id for r in resources]
    tags: dict[int, list[str]] = defaultdict(list)
    attrs: dict[int, dict[str, AttributeValue]] = defaultdict(dict)
    members: dict[int, list[str]] = defaultdict(list)
    if ids:
        for cap in session.exec(
            select(ResourceCapability)
            .where(col(ResourceCapability.resource_id).in_(ids))
            .order_by(col(ResourceCapability.tag))
        ):
            tags[cap.resource_id].append(cap.tag)
        for attr in session.exec(
            select(ResourceAttribute).where(col(ResourceAttribute.resource_id).in_(ids))
        ):
            attrs[attr.resource_id][attr.name] = _attribute_value(attr)
        for line_id, code in session.exec(
            select(ResourceMember.line_id, Resource.code)
            .join(Resource, col(Resource.id) == ResourceMember.member_id)
            .where(col(ResourceMember.line_id).in_(ids))
            .order_by(col(Resource.code))
        ):
            members[line_id].append(code)
    platform_codes = {
        pid: code
        for pid, code in session.exec(
            select(Platform.id, Platform.code).where(col(Platform.id).in_({r.platform_id for r in resources}))
        ).all()
    }
    return [
        ResourcePublic.model_validate(
            r,
            update={
                "platform_code": platform_codes[r.platform_id],
                "capabilities": tags[r.id],  # type: ignore[index]
                "attributes": attrs[r.id],  # type: ignore[index]
                "members": members[r.id],  # type: ignore[index]
            },
        )
        for r in resources
    ]


def _attribute_value(attr: ResourceAttribute) -> AttributeValue:
    if attr.value_type == "bool":
        return bool(attr.num_value)
    if attr.value_type == "number":
        value = attr.num_value or 0.0
        return int(value) if value.is_integer() else value
    return attr.text_value or ""


def attributes_of(session: Session, resource_id: int) -> dict[str, AttributeValue]:
    """One resource's typed attributes (`{"volume_l": 50, "interlock": True}`)."""
    rows = session.exec(select(ResourceAttribute).where(ResourceAttribute.resource_id == resource_id))
    return {row.name: _attribute_value(row) for row in rows}


def member_ids(session: Session, line_id: int) -> list[int]:
    return list(session.exec(_members(), params={"line_id": line_id}))


@cache
def _members() -> Any:
    return select(ResourceMember.member_id).where(ResourceMember.line_id == bindparam("line_id"))


# --- maintenance windows ---------------------------------------------------------------------


def add_maintenance(
    session: Session, who: Principal, resource_id: int, data: MaintenanceWindowCreate
) -> MaintenanceWindow:
    resource = get_resource(session, resource_id)
    ensure_manages_platform(who, resource.platform_id)
    window = MaintenanceWindow.model_validate(data, update={"resource_id": resource_id})
    session.add(window)
    session.flush()
    return window


def list_maintenance(session: Session, resource_id: int) -> list[MaintenanceWindow]:
    get_resource(session, resource_id)
    return list(
        session.exec(
            select(MaintenanceWindow)
            .where(MaintenanceWindow.resource_id == resource_id)
            .order_by(col(MaintenanceWindow.start))
        )
    )


def delete_maintenance(session: Session, who: Principal, resource_id: int, window_id: int) -> None:
    resource = get_resource(session, resource_id)
    ensure_manages_platform(who, resource.platform_id)
    window = get_or_404(session, MaintenanceWindow, window_id, "maintenance window")
    if window.resource_id != resource_id:
        raise Invalid("window_id", f"maintenance window {window_id} belongs to another resource")
    session.delete(window)
    session.flush()
