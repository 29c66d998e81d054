"""The demo platform's past: eight weeks of bookings in every state, made through the real use cases at
the moment they would have happened (requested days ahead, approved or rejected, checked in and out,
cancelled, not shown up), and the next two weeks' requests waiting for a decision.

It returns the runs the instruments must have reported (`RunPlan`): the simulators replay them as
telemetry through the broker, so usage sessions and run data come from the same path as live data
(`pilotshare simulate history`). Running it again adds nothing.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.domain.access import Principal, Role
from backend.domain.bookings import Action, BookingStatus
from backend.domain.errors import DomainError
from backend.domain.intervals import Interval
from backend.models.booking import Booking
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.models.usage import UsageSession
from backend.models.user import User
from backend.services.accounts.security import principal_of
from backend.services.bookings.lifecycle import set_key_project, sweep_no_shows, transition
from backend.services.bookings.requesting import book_fixed
from backend.services.money.invoices import previous_month, settle

SOURCE = "demo-history"
SME_RESOURCES = ("F5-1", "F50-1", "HPLC-1")  # the demo SMEs are qualified for these
STAFF_RESOURCES = ("SD-1", "FD-1", "TF-1", "F500-1")
SLOTS = ((time(9), 3), (time(13), 4))  # local start, hours
PURPOSES = (
    ("菌株 QL-7 放大发酵", "enzyme scale-up"),
    ("缓释制剂样品干燥", "sustained-release samples"),
    ("产物纯度检测", "purity analysis"),
    ("培养基优化对照批", "medium optimisation"),
)


@dataclass(frozen=True)
class Run:
    """A period an instrument reported `running` (device time, UTC), with the device model to replay."""

    platform: str
    resource: str
    device_type: str
    start: datetime
    end: datetime
    booking_id: int | None

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


@dataclass(frozen=True)
class RunPlan:
    runs: list[Run]
    bookings: int

    def as_dict(self) -> dict[str, object]:
        return {"runs": [r.as_dict() for r in self.runs], "bookings": self.bookings}


def _who(session: Session, role: Role) -> list[Principal]:
    users = session.exec(select(User).where(User.role == role, col(User.is_active)).order_by(col(User.id)))
    return [principal_of(u) for u in users]


def seed_history(
    session: Session, platform_code: str, now: datetime | None = None, weeks: int = 8
) -> RunPlan:
    """Bookings of the past `weeks` and the next two on `platform_code`; the runs to replay."""
    now = now or utcnow()
    platform = session.exec(select(Platform).where(Platform.code == platform_code)).one()
    resources = {r.code: r for r in session.exec(select(Resource).where(Resource.platform_id == platform.id))}
    if session.exec(select(Booking).where(Booking.source == SOURCE).limit(1)).first() is not None:
        return RunPlan(_runs_of(session, platform, resources), 0)
    zone = ZoneInfo(platform.timezone)
    rng = random.Random(2026)
    smes, operators = _who(session, Role.sme), _who(session, Role.operator)
    operator = next(o for o in operators if o.platform_id == platform.id)
    today = now.astimezone(zone).date()
    made = 0
    for offset in range(-7 * weeks, 14):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for (start_at, hours), pool in zip(SLOTS, (SME_RESOURCES, STAFF_RESOURCES), strict=True):
            if rng.random() < 0.25:
                continue
            start = datetime.combine(day, start_at, zone)
            slot = Interval(start, start + timedelta(hours=hours))
            code = rng.choice(pool)
            who = rng.choice(smes) if pool is SME_RESOURCES else operator
            made += _book(session, who, operator, resources[code], slot, now, rng)
    sweep_no_shows(session, now)
    return RunPlan(_runs_of(session, platform, resources), made)


def _book(
    session: Session,
    who: Principal,
    operator: Principal,
    resource: Resource,
    slot: Interval,
    now: datetime,
    rng: random.Random,
) -> int:
    """One booking and what happened to it; 0 when a rule refused it (quota, overlap), as in life."""
    requested = min(slot.start - timedelta(days=rng.randint(2, 6)), now - timedelta(minutes=5))
    zh, en = rng.choice(PURPOSES)
    declaration = SimpleNamespace(
        purpose=f"{zh} / {en}",
        project_name=None,
        sample_description=None,
        hazardous=False,
        hazard_details=None,
    )
    try:
        with session.begin_nested():
            booking = book_fixed(session, who, resource.id or 0, slot, declaration, requested, source=SOURCE)
            _live_through(session, who, operator, booking, slot, now, rng)
    except DomainError:
        return 0
    return 1


def _live_through(
    session: Session,
    who: Principal,
    operator: Principal,
    booking: Booking,
    slot: Interval,
    now: datetime,
    rng: random.Random,
) -> None:
    booking_id = booking.id or 0
    roll = rng.random()
    decided = booking.requested_at + timedelta(hours=rng.choice((1, 3, 8, 20)))
    if booking.status == BookingStatus.requested:
        if decided > now:
            if roll < 0.3:
                set_key_project(session, operator, booking_id, True, "省级重点项目 / provincial key project")
            return  # still waiting for the operator: the approval queue has work
        if roll < 0.08:
            transition(
                session,
                operator,
                booking_id,
                Action.reject,
                "设备当日另有安排 / instrument reserved",
                decided,
            )
            return
        transition(session, operator, booking_id, Action.approve, None, decided)
    if roll > 0.92 and slot.start - timedelta(days=1) < now:
        transition(session, who, booking_id, Action.cancel, None, min(slot.start - timedelta(hours=20), now))
        return
    if slot.start > now or roll > 0.86:
        return  # to come, or a no-show that the sweep finds
    transition(session, who, booking_id, Action.check_in, None, slot.start)
    if slot.end <= now:
        transition(session, who, booking_id, Action.check_out, None, slot.end)


def _runs_of(session: Session, platform: Platform, resources: dict[str, Resource]) -> list[Run]:
    """What the instruments did during the demo's checked-in bookings: a run starting a few minutes
    late and sometimes overrunning, as measured use does."""
    by_id = {r.id: r for r in resources.values()}
    rows = session.exec(
        select(Booking)
        .where(
            Booking.source == SOURCE,
            col(Booking.parent_id).is_(None),
            col(Booking.checked_in_at).is_not(None),
        )
        .order_by(col(Booking.starts_at))
    ).all()
    runs = []
    for booking in rows:
        resource = by_id.get(booking.resource_id)
        if (
            resource is None
            or resource.device_type is None
            or booking.starts_at is None
            or booking.ends_at is None
        ):
            continue
        jitter = random.Random(booking.id)
        start = booking.starts_at + timedelta(minutes=jitter.choice((0, 5, 10, 20)))
        end = min(booking.ends_at + timedelta(minutes=jitter.choice((-20, 0, 0, 15))), utcnow())
        if end > start:
            runs.append(Run(platform.code, resource.code, resource.device_type, start, end, booking.id))
    return runs


def measured_runs(session: Session) -> int:
    """How many of the demo's past bookings have measured use yet (ingest is replaying the history)."""
    return len(
        session.exec(
            select(UsageSession.booking_id)
            .where(col(UsageSession.booking_id).in_(select(Booking.id).where(Booking.source == SOURCE)))
            .distinct()
        ).all()
    )


def settle_last_month(session: Session, now: datetime | None = None) -> int:
    """Invoice every platform's previous month as the system would on its settlement day; 0 when done."""
    issued = 0
    for platform in session.exec(select(Platform)):
        month, _ = previous_month(platform.timezone, now)
        try:
            with session.begin_nested():
                issued += len(settle(session, None, platform.id or 0, month))
        except DomainError:
            continue  # already settled
    return issued
