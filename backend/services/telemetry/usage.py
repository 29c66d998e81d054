"""Usage sessions, as ingest records them (docs/usage.md); `usage_reading` reads them.

`record`, called by `pilotshare ingest` inside its one transaction per batch): the rules are in
`backend.domain.usage`; this module loads the sessions a batch can touch, runs the tracker and writes
back what changed. The per-resource `usage_cursor` row is locked first (row lock on PostgreSQL, the
write lock on SQLite), so two writers never interleave on one resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from backend.domain import usage as rules
from backend.domain import usage_figures as figures
from backend.domain.bookings import BookingStatus
from backend.domain.telemetry_checks import datetime_to_ns, ns_to_datetime
from backend.models.booking import Booking, status_in
from backend.models.resource import Resource
from backend.models.types import utcnow
from backend.models.usage import (
    ClosedBy,
    UsageCursor,
    UsageSession,
    UsageSource,
)
from backend.services import audit

MATCHED_STATUSES = frozenset(
    {BookingStatus.approved, BookingStatus.checked_in, BookingStatus.completed, BookingStatus.no_show}
)


#: a status birth's reading, a telemetry message's readings, or None: the agent's Last Will (offline)
Item = rules.Observation | rules.Readings | None


class _SqlSpans:
    """`SpanStore` over the usage_session rows of one resource.

    The common batch (samples after the cursor) needs no query: the open session, or else the latest
    session, answers `before`. Other questions go to the database; every span the batch knows is written
    through to its row first (the session autoflushes), so the queries see the batch's own changes, and a
    row read back is turned into the span already held for it, never into a second one.
    """

    def __init__(self, session: Session, resource_id: int, platform_id: int, cursor: UsageCursor) -> None:
        self.session = session
        self.resource_id = resource_id
        self.platform_id = platform_id
        self.cursor = cursor
        self.known: list[rules.Span] = []
        self.rows: dict[int, UsageSession] = {}  # id(span) -> its row
        self.loaded: dict[int, tuple[datetime, datetime | None, datetime]] = {}  # id(span) -> as read
        self._latest: rules.Span | None = None  # the session with the latest start ...
        self._latest_known = False  # ... once known (sessions never overlap, so starts order them)
        # every session starting in [low, high] is in `known` (None: unbounded), once `preload` ran
        self._complete: tuple[datetime | None, datetime | None] | None = None

    def preload(self, low: datetime, high: datetime) -> None:
        """Hold every session a batch of late samples between `low` and `high` can ask about: those
        starting in that span, the last one starting before it and the first one starting after it.
        Three queries instead of one per late sample (two ingest workers sharing a resource's stream
        see half its samples late: that was 120,000 queries for 400,000 samples)."""
        mine = select(UsageSession).where(UsageSession.resource_id == self.resource_id)
        started = col(UsageSession.started_at)
        floor = self.session.exec(mine.where(started <= low).order_by(started.desc()).limit(1)).first()
        ceiling = self.session.exec(mine.where(started > high).order_by(started).limit(1)).first()
        inside = mine.where(started <= high)
        if floor is not None:
            inside = inside.where(started > floor.started_at)
        for row in [*([floor] if floor else []), *self.session.exec(inside), *([ceiling] if ceiling else [])]:
            self.adopt(row)
        self._complete = (
            None if floor is None else floor.started_at,
            None if ceiling is None else ceiling.started_at,
        )
        if ceiling is None:
            self._latest = max(self.known, key=lambda span: span.start, default=None)
            self._latest_known = True

    def _held(self, at: datetime, *, upper_open: bool) -> bool:
        """True when `preload` holds every session `before(at)` (or `after(at)`) can find."""
        if self._complete is None:
            return False
        low, high = self._complete
        if low is not None and at < low:
            return False
        return high is None or (at < high if upper_open else at <= high)

    def adopt(self, row: UsageSession) -> rules.Span:
        for span in self.known:
            if self.rows.get(id(span)) is row:
                return span
        span = rules.Span(
            start=row.started_at,
            end=row.ended_at,
            last_seen=row.last_seen_at,
            states=set(row.states or []),
            agents=set(row.agents or []),
            source=row.source,
            closed_by=row.closed_by,
            key=row.id,
        )
        self.known.append(span)
        self.rows[id(span)] = row
        self.loaded[id(span)] = (row.started_at, row.ended_at, row.last_seen_at)
        return span

    def adopt_open(self, row: UsageSession) -> rules.Span:
        """The open session: nothing starts after it."""
        span = self.adopt(row)
        self._latest, self._latest_known = span, True
        return span

    def write(self, span: rules.Span) -> UsageSession:
        row = self.rows.get(id(span))
        if row is None:
            row = UsageSession(
                resource_id=self.resource_id,
                platform_id=self.platform_id,
                started_at=span.start,
                last_seen_at=span.last_seen,
                source=UsageSource(span.source),
            )
            self.rows[id(span)] = row
            self.session.add(row)
        values: dict[str, Any] = {
            "started_at": span.start,
            "ended_at": span.end,
            "last_seen_at": span.last_seen,
            "states": sorted(span.states),
            "agents": sorted(span.agents),
            "closed_by": None if span.closed_by is None else ClosedBy(span.closed_by),
        }
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
        return row

    def _first(self, condition: Any, *, newest: bool) -> rules.Span | None:
        for span in self.known:
            self.write(span)
        order = col(UsageSession.started_at).desc() if newest else col(UsageSession.started_at)
        query = select(UsageSession).where(UsageSession.resource_id == self.resource_id)
        if condition is not None:
            query = query.where(condition)
        row = self.session.exec(query.order_by(order).limit(1)).first()
        return None if row is None else self.adopt(row)

    def covering(self, at: datetime) -> rules.Span | None:
        # Sessions never overlap, so only the latest one starting at or before `at` can cover it.
        span = self.before(at)
        return span if span is not None and span.covers(at) else None

    def before(self, at: datetime) -> rules.Span | None:
        if self._held(at, upper_open=False):
            return max((s for s in self.known if s.start <= at), key=lambda span: span.start, default=None)
        if not self._latest_known:
            self._latest, self._latest_known = self._first(None, newest=True), True
        if self._latest is None or self._latest.start <= at:
            return self._latest
        return self._first(col(UsageSession.started_at) <= at, newest=True)

    def after(self, at: datetime) -> rules.Span | None:
        if self._latest_known and (self._latest is None or self._latest.start <= at):
            return None
        if self._held(at, upper_open=True):
            return min((s for s in self.known if s.start > at), key=lambda span: span.start, default=None)
        return self._first(col(UsageSession.started_at) > at, newest=False)

    def add(self, span: rules.Span) -> None:
        self.known.append(span)
        self.write(span)
        if self._latest_known and (self._latest is None or span.start > self._latest.start):
            self._latest = span

    def remove(self, span: rules.Span) -> None:
        self.known.remove(span)
        if span is self._latest:
            self._latest, self._latest_known = None, False
        row = self.rows.pop(id(span), None)
        if row is None:
            return
        if row.id is not None and self.cursor.open_session_id == row.id:
            self.cursor.open_session_id = None  # before the row goes: the cursor refers to it
        if row in self.session.new:
            self.session.expunge(row)
        else:
            self.session.delete(row)


def _match(session: Session, rows: list[UsageSession]) -> None:
    """Name the booking each session falls in (its top-level booking for a line) and its organization.

    One query per batch: the bookings of these sessions' resources meeting the time they span.
    """
    if not rows:
        return
    low = min(r.started_at for r in rows)
    high = max(r.ended_at or r.last_seen_at for r in rows)
    with session.no_autoflush:  # bookings do not depend on the usage rows being written
        found = session.exec(
            select(Booking).where(
                col(Booking.resource_id).in_({r.resource_id for r in rows}),
                status_in(MATCHED_STATUSES),
                col(Booking.starts_at) <= high,
                col(Booking.ends_at) > low,
            )
        ).all()
    slots: dict[int, list[figures.BookedSlot]] = {}
    for b in found:
        if (
            b.id is not None
            and b.resource_id is not None
            and b.starts_at is not None
            and b.ends_at is not None
        ):
            slots.setdefault(b.resource_id, []).append(figures.BookedSlot(b.id, b.starts_at, b.ends_at))
    by_id = {b.id: b for b in found}
    for row in rows:
        finish = row.ended_at or row.last_seen_at
        picked = figures.pick_booking((row.started_at, finish), slots.get(row.resource_id, []))
        chosen = by_id.get(picked) if picked is not None else None
        booking_id = None if chosen is None else chosen.parent_id or chosen.id
        organization_id = None if chosen is None else chosen.organization_id
        if (row.booking_id, row.organization_id) != (booking_id, organization_id):
            row.booking_id, row.organization_id = booking_id, organization_id


def record(
    session: Session, items: Mapping[int, Sequence[Item]], usage_rules: rules.UsageRules | None = None
) -> int:
    """Apply one ingest batch's state readings (messages, births; None = offline), per resource in arrival
    order.

    Returns how many sessions were opened, closed, merged or moved (not counting a running session
    that only saw more samples).
    """
    if not items:
        return 0
    usage_rules = usage_rules or rules.UsageRules()
    wanted = sorted(items)
    with session.no_autoflush:
        platforms = dict(
            session.exec(select(Resource.id, Resource.platform_id).where(col(Resource.id).in_(wanted))).all()
        )
        # Locked in resource order (PostgreSQL row locks; SQLite holds the write lock anyway).
        cursors = {
            c.resource_id: c
            for c in session.exec(
                select(UsageCursor)
                .where(col(UsageCursor.resource_id).in_(wanted))
                .order_by(col(UsageCursor.resource_id))
                .with_for_update()
            )
        }
        open_ids = [c.open_session_id for c in cursors.values() if c.open_session_id is not None]
        open_rows = {
            r.id: r for r in session.exec(select(UsageSession).where(col(UsageSession.id).in_(open_ids)))
        }
    changed = 0
    closed: list[UsageSession] = []
    to_match: list[UsageSession] = []
    for resource_id in wanted:
        if resource_id not in platforms:
            continue
        cursor = cursors.get(resource_id)
        observed = rules.observations(items[resource_id], None if cursor is None else cursor.state_ns)
        if not observed:
            continue  # telemetry without a state reading
        if cursor is None:
            cursor = UsageCursor(resource_id=resource_id)
            session.add(cursor)
        store = _SqlSpans(session, resource_id, platforms[resource_id], cursor)
        open_row = open_rows.get(cursor.open_session_id)
        newest = ns_to_datetime(cursor.state_ns) if cursor.state_ns else None
        ordered = rules.thin(rules.in_device_order(observed), newest)
        late = [obs.at for obs in ordered if obs is not None and newest is not None and obs.at <= newest]
        if late:
            store.preload(min(late), max(late))
        tracker = rules.track(
            ordered,
            usage_rules,
            store,
            newest,
            store.adopt_open(open_row) if open_row is not None else None,
        )
        for span in tracker.touched:
            row = store.write(span)
            short = span.is_short(usage_rules)
            if row.short != short:
                row.short = short
            before = store.loaded.get(id(span))
            if span.end is not None and (before is None or before[1] is None):
                closed.append(row)
            if before is None or before[:2] != (span.start, span.end):
                changed += 1
                row.updated_at = utcnow()
                to_match.append(row)
            elif span.is_open and row.booking_id is None and _minute(before[2]) != _minute(span.last_seen):
                to_match.append(row)  # unbooked use may have run into a booking: look again each minute
        changed += len(tracker.removed)
        if tracker.cursor is not None and tracker.cursor > ns_to_datetime(cursor.state_ns):
            cursor.state_ns = datetime_to_ns(tracker.cursor)
            cursor.state = tracker.cursor_state or cursor.state
        open_row = store.write(tracker.open) if tracker.open is not None else None
        if open_row is not None and open_row.id is None:
            session.flush()
        open_id = None if open_row is None else open_row.id
        if cursor.open_session_id != open_id:
            cursor.open_session_id = open_id
    _match(session, to_match)
    _audit_closed(session, closed)
    return changed


def _audit_closed(session: Session, rows: list[UsageSession]) -> None:
    """A session that closed goes into the audit chain (docs/audit.md), in the batch's transaction."""
    if any(row.id is None for row in rows):
        session.flush()
    for row in rows:
        assert row.id is not None and row.ended_at is not None
        audit.append(
            session,
            "usage.close",
            ("usage_session", row.id),
            actor=None,
            platform_id=row.platform_id,
            payload={
                "resource_id": row.resource_id,
                "start": row.started_at,
                "end": row.ended_at,
                "states": sorted(row.states or []),
                "agents": sorted(row.agents or []),
                "closed_by": None if row.closed_by is None else str(row.closed_by),
                "short": row.short,
                "booking_id": row.booking_id,
                "organization_id": row.organization_id,
            },
        )


def _minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60
