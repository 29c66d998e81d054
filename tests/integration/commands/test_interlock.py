"""Interlock by booking on the stored bookings (SQLite and PostgreSQL): which unlocks and locks the booking
path and the sweep queue, once each, for instruments and a line's members. Delivery: test_commands.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.db import make_engine, unit_of_work
from backend.domain.access import Principal, Role
from backend.models.booking import Booking
from backend.models.command import DeviceCommand
from backend.models.resource import (
    Resource,
    ResourceAttribute,
    ResourceCreate,
    ResourceMember,
    ResourceUpdate,
)
from backend.models.user import User
from backend.services.bookings import interlock, lifecycle
from backend.services.catalog.resources import create_resource, update_resource
from backend.services.demo.seed import seed_demo
from backend.settings import Settings

pytestmark = pytest.mark.integration


@dataclass
class World:
    engine: Engine
    ids: dict[str, int]
    sme: Principal


@pytest.fixture(scope="module")
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)
        user = session.exec(select(User).where(User.role == Role.sme)).first()
        assert user is not None and user.id is not None and user.organization_id is not None
        sme = Principal(user.id, Role.sme, organization_id=user.organization_id)
        ids = {"platform": session.exec(select(Resource.platform_id)).first() or 0}
    yield World(engine, ids, sme)
    engine.dispose()


def _resource(session: Session, w: World, unlock_at: str | None = "", kind: str = "instrument") -> int:
    """A new resource of its own for each case (no other test's bookings on it); `unlock_at` None: no
    interlock, "" the default policy."""
    code = f"IL-{uuid.uuid4().hex[:8]}"
    resource = Resource(code=code, kind=kind, name=code, platform_id=w.ids["platform"])
    session.add(resource)
    session.flush()
    assert resource.id is not None
    w.ids[code] = resource.id
    if unlock_at is not None:
        session.add(
            ResourceAttribute(resource_id=resource.id, name="interlock", num_value=1, value_type="bool")
        )
    if unlock_at:
        session.add(
            ResourceAttribute(
                resource_id=resource.id, name="unlock_at", text_value=unlock_at, value_type="text"
            )
        )
    return resource.id


def _book(
    session: Session,
    w: World,
    resource_id: int,
    start: datetime,
    end: datetime,
    members: tuple[int, ...] = (),
) -> Booking:
    fields = {
        "platform_id": w.ids["platform"],
        "status": "approved",
        "organization_id": w.sme.organization_id,
        "user_id": w.sme.user_id,
        "starts_at": start,
        "ends_at": end,
        "purpose": "interlock",
    }
    booking = Booking(resource_id=resource_id, **fields)
    session.add(booking)
    session.flush()
    for member in members:
        session.add(Booking(resource_id=member, parent_id=booking.id, **fields))
    session.flush()
    return booking


def _commands(session: Session, *resource_ids: int) -> list[tuple[str, int, int | None]]:
    rows = session.exec(
        select(DeviceCommand)
        .where(col(DeviceCommand.resource_id).in_(resource_ids))
        .order_by(col(DeviceCommand.created_at))
    )
    return [(c.action, c.resource_id, c.booking_id) for c in rows]


NOW = datetime.now(UTC).replace(microsecond=0)


def test_unlock_at_start_is_swept_once_and_the_end_locks_what_was_unlocked(world: World) -> None:
    w = world
    with unit_of_work(w.engine) as session:
        at_start, at_check_in = _resource(session, w, "start"), _resource(session, w)
        running = _book(session, w, at_start, NOW - timedelta(minutes=5), NOW + timedelta(hours=1))
        idle = _book(session, w, at_check_in, NOW - timedelta(minutes=5), NOW + timedelta(hours=1))
        interlock.sweep(session, NOW)
        interlock.sweep(session, NOW)  # again, or in a second dispatcher: nothing more
        assert _commands(session, at_start, at_check_in) == [("unlock", at_start, running.id)]
        unlock = session.exec(select(DeviceCommand).where(DeviceCommand.booking_id == running.id)).one()
        assert unlock.expires_at == running.ends_at
        after = NOW + timedelta(hours=2)
        assert running in interlock.due(session, after)[1] and idle not in interlock.due(session, after)[1]
        interlock.sweep(session, after)
        interlock.sweep(session, after)
        assert _commands(session, at_start, at_check_in) == [
            ("unlock", at_start, running.id),
            ("lock", at_start, running.id),
        ]


def test_check_in_and_check_out_drive_a_lines_interlocked_members(world: World) -> None:
    w = world
    with unit_of_work(w.engine) as session:
        line, locked, free = (
            _resource(session, w, None, "line"),
            _resource(session, w),
            _resource(session, w, None),
        )
        session.add(ResourceMember(line_id=line, member_id=locked))
        session.add(ResourceMember(line_id=line, member_id=free))
        booking = _book(
            session, w, line, NOW - timedelta(minutes=1), NOW + timedelta(hours=3), members=(locked, free)
        )
        booking_id = booking.id or 0
    with unit_of_work(w.engine) as session:
        lifecycle.check_in(session, w.sme, booking_id)
    with unit_of_work(w.engine) as session:
        assert _commands(session, line, locked, free) == [("unlock", locked, booking_id)]
        lifecycle.check_out(session, w.sme, booking_id)
    with unit_of_work(w.engine) as session:
        assert _commands(session, line, locked, free) == [
            ("unlock", locked, booking_id),
            ("lock", locked, booking_id),
        ]


def test_a_no_show_locks_what_its_start_unlocked(world: World) -> None:
    w = world
    with unit_of_work(w.engine) as session:
        at_start, at_check_in = _resource(session, w, "start"), _resource(session, w)
        started = _book(session, w, at_start, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        never = _book(session, w, at_check_in, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        interlock.sweep(session, NOW - timedelta(minutes=59))
        assert {started.id, never.id} <= set(lifecycle.sweep_no_shows(session, NOW))
        assert _commands(session, at_start, at_check_in) == [
            ("unlock", at_start, started.id),
            ("lock", at_start, started.id),
        ]


def test_a_resource_made_or_changed_to_be_interlocked_is_locked_at_once(world: World) -> None:
    w = world
    admin = Principal(1, Role.admin)
    with unit_of_work(w.engine) as session:
        body = {"platform_id": w.ids["platform"], "kind": "instrument", "name": "interlocked"}
        made = create_resource(
            session,
            admin,
            ResourceCreate(code=f"IL-{uuid.uuid4().hex[:8]}", attributes={"interlock": True}, **body),
        )
        plain = create_resource(session, admin, ResourceCreate(code=f"IL-{uuid.uuid4().hex[:8]}", **body))
        assert made.id is not None and plain.id is not None
        assert _commands(session, made.id, plain.id) == [("lock", made.id, None)]
        update_resource(session, admin, plain.id, ResourceUpdate(attributes={"interlock": True}))
        update_resource(
            session, admin, plain.id, ResourceUpdate(attributes={"interlock": True, "volume_l": 5})
        )
        assert _commands(session, plain.id) == [("lock", plain.id, None)]  # once: when it was turned on
