"""Repairs on live events: when ingest sees a resource go to `fault`, the bookings of the outage that
follows are repaired by the same use case an operator's `POST /schedule/repairs` runs (`repairs.propose`),
once per fault episode, and applied at once when the platform's policy allows it.

The outage is taken to last the platform's `fault_outage_hours` from the first fault reading. One
proposal per episode (`resource_fault`) is kept by the database (`uq_schedule_repair_fault`): several
ingest workers, or a worker that restarted, asking for the same episode make one proposal. A proposal
moving no more than `auto_apply_repairs_up_to_moves` bookings (0 = never) and leaving nothing to a
person is applied by the system; the SMEs whose bookings move are told their new time either way once
it is applied.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from backend.db import unit_of_work, writer
from backend.domain.errors import Conflict, DomainError
from backend.logs import get_logger
from backend.models.alarm_rule import ResourceFault
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.schedule import RepairCause, ScheduleRepair
from backend.services.scheduling import repairs

log = get_logger("pilotshare.repairs")


def propose_for_fault(
    engine: Engine, fault_id: int, *, time_limit: float = 5.0, now: datetime | None = None
) -> ScheduleRepair | None:
    """The episode's repair proposal, made once (None when it exists already or the episode is gone)."""
    with unit_of_work(engine) as session:
        fault = session.get(ResourceFault, fault_id)
        if (
            fault is None
            or session.exec(select(ScheduleRepair.id).where(ScheduleRepair.fault_id == fault_id)).first()
        ):
            return None
        resource = session.get(Resource, fault.resource_id)
        platform = session.get(Platform, resource.platform_id) if resource else None
        if resource is None or platform is None:
            return None
        end = fault.started_at + timedelta(hours=platform.fault_outage_hours)
        outage = repairs.Outage(resource.id or 0, fault.started_at, end, RepairCause.fault, fault_id=fault_id)
        up_to = platform.auto_apply_repairs_up_to_moves
    try:
        proposal = repairs.propose(engine, None, outage, time_limit=time_limit, now=now)
    except IntegrityError:
        log.info("repairs.fault_proposed_elsewhere", fault_id=fault_id)
        return None
    log.info(
        "repairs.fault_proposed",
        fault_id=fault_id,
        repair_id=proposal.id,
        moves=len(proposal.moves),
        needs_person=len(proposal.needs_person),
    )
    if 0 < len(proposal.moves) <= up_to and not proposal.needs_person:
        return _apply_by_policy(engine, proposal, up_to)
    return proposal


def _apply_by_policy(engine: Engine, proposal: ScheduleRepair, up_to: int) -> ScheduleRepair:
    reason = f"applied by the platform's policy: at most {up_to} moves are applied without a person"
    try:
        with unit_of_work(writer(engine)) as session:
            applied = repairs.apply(session, None, proposal.id or 0, reason)
    except (Conflict, DomainError) as exc:
        log.warning("repairs.auto_apply_refused", repair_id=proposal.id, reason=str(exc)[:300])
        return proposal
    log.info("repairs.auto_applied", repair_id=applied.id, moves=len(applied.moves))
    return applied


def unproposed_faults(engine: Engine, started_before: datetime) -> list[int]:
    """Open fault episodes without a proposal (their worker died before proposing), oldest first."""
    with unit_of_work(engine) as session:
        proposed = select(ScheduleRepair.fault_id).where(col(ScheduleRepair.fault_id).is_not(None))
        rows = session.exec(
            select(ResourceFault.id)
            .where(
                col(ResourceFault.open_resource_id).is_not(None),
                col(ResourceFault.started_at) < started_before,
                col(ResourceFault.id).not_in(proposed),
            )
            .order_by(col(ResourceFault.started_at))
        ).all()
    return [i for i in rows if i is not None]
