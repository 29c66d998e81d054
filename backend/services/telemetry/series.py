"""Run data of one resource, read back from InfluxDB with InfluxQL on the v1 `/query` endpoint.

Staff and auditors read any time range; an SME reads only the parts of the range covered by its own
organization's bookings of the resource (the "run data of their own bookings" promise), and is
refused when the range covers none of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from backend.adapters.influx import (
    MEASUREMENT,
    InfluxClient,
    InfluxError,
    quote_identifier,
    quote_string,
    store_errors,
)
from backend.domain.access import Principal, Role
from backend.domain.errors import AccessDenied, Invalid
from backend.domain.telemetry_checks import ns_to_datetime
from backend.models.booking import Booking
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.twin import TelemetryPoint, TelemetrySeries
from backend.services.bookings.queries import get_booking
from backend.services.catalog.resources import get_resource, member_ids
from backend.services.common import get_or_404
from backend.services.telemetry import twins

MAX_POINTS = 10_000
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EVERY = re.compile(r"^([1-9][0-9]{0,6})(ms|s|m|h|d|w)$")


def every_seconds(every: str) -> float:
    match = _EVERY.match(every)
    if match is None:
        raise Invalid("every", f"{every!r} is not a duration like 10s, 1m, 1h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def check_field(field: str) -> str:
    if not field or len(field) > 64 or field == "time":
        raise Invalid("field", "give the signal name (1-64 characters, not 'time')")
    return field


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _influxql(
    platform: str, resource: str, field: str, start: datetime, end: datetime, every: str | None
) -> str:
    where = (
        f"{quote_identifier('platform')} = {quote_string(platform)} AND "
        f"{quote_identifier('resource')} = {quote_string(resource)} AND "
        f"time >= {_ns(start)} AND time < {_ns(end)}"
    )
    if every is None:
        return (
            f"SELECT {quote_identifier(field)} AS value FROM {quote_identifier(MEASUREMENT)} "
            f"WHERE {where} ORDER BY time ASC LIMIT {MAX_POINTS + 1}"
        )
    return (
        f"SELECT mean({quote_identifier(field)}) AS value FROM {quote_identifier(MEASUREMENT)} "
        f"WHERE {where} GROUP BY time({every}) fill(none)"
    )


def read_series(
    session: Session,
    client: InfluxClient,
    who: Principal,
    resource_id: int,
    field: str,
    start: datetime | None,
    end: datetime | None,
    every: str | None,
) -> TelemetrySeries:
    check_field(field)
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = (start or end - timedelta(hours=1)).astimezone(UTC)
    if end <= start:
        raise Invalid("to", "must be after from")
    if every is not None and (end - start).total_seconds() / every_seconds(every) > MAX_POINTS:
        raise Invalid("every", f"gives more than {MAX_POINTS} points over this range; take a longer interval")
    resource, platform = twins.resource_with_platform(session, resource_id)
    if who.role is Role.operator and who.platform_id != resource.platform_id:
        raise AccessDenied("only operators of this resource's platform read its run data")
    windows = [(start, end)]
    if who.role is Role.sme:
        windows = twins.run_windows(session, who, resource_id, start, end)
        if not windows:
            raise AccessDenied("an SME reads run data only within its own bookings of this resource")
    known = twins.reported_fields(session, resource_id)
    if known and field not in known:
        raise Invalid("field", f"{resource.code} has no signal {field!r}; it reports {', '.join(known)}")
    points: list[TelemetryPoint] = []
    for window_start, window_end in windows[:100]:
        q = _influxql(platform.code, resource.code, field, window_start, window_end, every)
        with store_errors():
            try:
                found = _series(client, q)
            except InfluxError as exc:
                if "unsupported mean" in str(exc) or ("mean" in str(exc) and "type" in str(exc)):
                    raise Invalid(
                        "every", f"{field!r} is not numeric, so it cannot be averaged; leave every out"
                    ) from None
                raise
        for series in found:
            for ts, value in series.get("values", []):
                points.append(TelemetryPoint(time=ns_to_datetime(int(ts)), value=value))
        if len(points) > MAX_POINTS:
            raise Invalid(
                "every", f"more than {MAX_POINTS} samples in this range; give every (e.g. 1m) to average"
            )
    return TelemetrySeries(resource_id=resource_id, field=field, every=every, points=points)


@dataclass(frozen=True)
class RunData:
    """The numeric signals of one booked instrument over a booking, averaged per `every`."""

    resource: str
    every: str
    times: list[datetime]
    signals: dict[str, list[float | None]]


def booking_run_data(
    session: Session, client: InfluxClient, who: Principal, booking_id: int, points: int = 240
) -> list[RunData]:
    """Run data of a booking: each booked instrument (a line's members too), every numeric signal averaged
    to about `points` intervals over the booked time. Whoever may see the booking may read it."""
    booking = get_booking(session, who, booking_id)
    if booking.starts_at is None or booking.ends_at is None:
        return []
    start, end = booking.starts_at, min(booking.ends_at, datetime.now(UTC))
    if end <= start:
        return []
    seconds = max(1, int((end - start).total_seconds() // points))
    every = f"{seconds}s"
    platform = get_or_404(session, Platform, booking.platform_id, "platform")
    out = []
    for resource in booked_resources(session, booking):
        where = (
            f"{quote_identifier('platform')} = {quote_string(platform.code)} AND "
            f"{quote_identifier('resource')} = {quote_string(resource.code)} AND "
            f"time >= {_ns(start)} AND time < {_ns(end)}"
        )
        table = quote_identifier(MEASUREMENT)
        q = f"SELECT mean(*) FROM {table} WHERE {where} GROUP BY time({every}) fill(none)"
        with store_errors():
            found = _series(client, q)
        for series in found:
            columns = series["columns"]
            names = [c.removeprefix("mean_") for c in columns[1:]]
            rows = series.get("values", [])
            out.append(
                RunData(
                    resource=resource.code,
                    every=every,
                    times=[ns_to_datetime(int(row[0])) for row in rows],
                    signals={name: [row[i + 1] for row in rows] for i, name in enumerate(names)},
                )
            )
    return out


def _series(client: InfluxClient, q: str) -> list[dict[str, Any]]:
    """The series one query finds. A store that has no database yet holds no samples (ingest creates the
    database with its first write), so that is an empty answer, not an outage."""
    try:
        results = client.query(q, epoch="ns")
    except InfluxError as exc:
        if "database not found" in str(exc):
            return []
        raise
    found: list[dict[str, Any]] = results[0].get("series", []) if results else []
    return found


def booked_resources(session: Session, booking: Booking) -> list[Resource]:
    """The instruments a booking holds: the resource itself, or a line's member instruments."""
    assert booking.resource_id is not None
    members = member_ids(session, booking.resource_id)
    return [get_resource(session, rid) for rid in members] or [get_resource(session, booking.resource_id)]
