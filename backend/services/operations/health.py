"""What the platform's own monitoring asks: is the database there, and how much is in it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from backend.models.booking import Booking
from backend.models.command import DeviceCommand
from backend.models.outbox import OutboxMessage
from backend.models.resource import Resource
from backend.services.telemetry import checks


def database_problem(session: Session) -> str | None:
    """None when the database answers and is migrated; otherwise the first line of what went wrong."""
    try:
        session.exec(text("SELECT 1 FROM alembic_version"))  # type: ignore[call-overload]
    except SQLAlchemyError as exc:
        return str(exc).splitlines()[0]
    return None


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    samples: list[tuple[dict[str, str], int]]


def business_gauges(session: Session) -> list[Gauge]:
    """Counts from the shared database: every API replica reports the same values."""
    bookings = session.exec(
        select(Booking.status, func.count()).where(col(Booking.parent_id).is_(None)).group_by(Booking.status)
    ).all()
    outbox = session.exec(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    resources = session.exec(
        select(Resource.kind, Resource.status, func.count()).group_by(Resource.kind, Resource.status)
    ).all()
    commands = session.exec(select(DeviceCommand.state, func.count()).group_by(DeviceCommand.state)).all()
    return [
        Gauge(
            "pilotshare_bookings",
            "Bookings by status (lines count once).",
            [({"status": str(s)}, n) for s, n in bookings],
        ),
        Gauge(
            "pilotshare_outbox_messages",
            "Notifications by delivery status.",
            [({"status": str(s)}, n) for s, n in outbox],
        ),
        Gauge(
            "pilotshare_resources",
            "Resources by kind and status.",
            [({"kind": str(k), "status": str(s)}, n) for k, s, n in resources],
        ),
        Gauge(
            "pilotshare_device_commands",
            "Commands to instruments by state; refused and expired ones need a look (docs/commands.md).",
            [({"state": str(s)}, n) for s, n in commands],
        ),
        *_telemetry_gauges(session),
    ]


def _telemetry_gauges(session: Session) -> list[Gauge]:
    """What ingest kept out of the figures or found missing (docs/ingest.md, "Nothing lost")."""
    held = checks.totals(session)
    return [
        Gauge(
            "pilotshare_telemetry_held_back_samples",
            "Samples ingest refused (stamped in the future) or quarantined (inside an invoiced month).",
            [
                ({"reason": "future"}, int(held["refused_future_samples"])),
                ({"reason": "settled"}, int(held["quarantined_samples"])),
            ],
        ),
        Gauge(
            "pilotshare_telemetry_missing_messages",
            "Telemetry messages that never arrived: holes in the agents' message numbers (seq).",
            [({}, int(held["missing_messages"]))],
        ),
        Gauge(
            "pilotshare_broker_messages_dropped",
            "Messages the broker dropped, as its $SYS/broker/publish/messages/dropped said to ingest.",
            [({}, int(held["broker_messages_dropped"]))],
        ),
    ]
