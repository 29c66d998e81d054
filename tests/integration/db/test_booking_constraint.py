"""The database itself refuses a double allocation, even from code that skips the service's checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.db import make_engine, unit_of_work
from backend.models.booking import Booking
from backend.services.demo.seed import seed_demo
from backend.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2027, 9, 1, 1, tzinfo=UTC)


def _row(start: int, end: int, status: str = "approved", resource_id: int = 1) -> Booking:
    return Booking(
        platform_id=1,
        resource_id=resource_id,
        user_id=1,
        purpose="direct insert",
        status=status,
        starts_at=T0 + timedelta(hours=start),
        ends_at=T0 + timedelta(hours=end),
    )


def test_exclusion_constraint_on_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite serializes booking writers instead")
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)
        session.add_all([_row(0, 2), _row(2, 4), _row(1, 3, status="cancelled"), _row(1, 3, resource_id=2)])
    with pytest.raises(IntegrityError, match="booking_no_overlap"), Session(engine) as session:
        session.add(_row(3, 5, status="requested"))
        session.commit()
    with pytest.raises(IntegrityError, match="ck_booking_ordered"), Session(engine) as session:
        session.add(_row(8, 7))
        session.commit()
    engine.dispose()
