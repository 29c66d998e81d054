"""Usage sessions: the rules that turn an instrument's `state` samples into periods of actual use.

Pure code: ingest loads the few sessions a batch can touch into a `SpanStore` and persists what changed;
the unit tests use `SpanList`, the in-memory store. docs/usage.md explains the rules for users.

What counts as use: the states in `USE_STATES` (setup, running, cleaning). `idle`, `fault` and
`maintenance` do not: a tripped or serviced instrument is not working for anyone. A `state` value outside
the contract's six is not an observation at all (it neither opens nor closes a session).

A session is a run of in-use samples, in device time:

- it **opens** at the first in-use sample and **closes** at the first sample that is not use
  (`closed_by = state`), or, when the agent's Last Will arrives, at the last in-use sample seen
  (`closed_by = offline`);
- a **pause** shorter than `min_seconds` joins the sessions either side of it (a sample of `idle`
  between two `running` ones is one session), and a session that resumes within `min_seconds` of an
  offline close simply continues;
- a session shorter than `min_seconds` is **short** (a flicker): kept, so the rules stay idempotent, but
  not counted as use. It becomes a counted session again if it grows past the minimum.

Delivery is at least once and an agent empties its disk buffer after an outage, so samples can come
again or late. The tracker keeps the device time of the newest sample it processed (the cursor):

- a sample newer than the cursor moves the sessions on as above;
- a sample at or before the cursor is **late**. If a session already covers it, nothing changes (a
  replayed message never creates or moves anything). A late in-use sample that no session covers extends
  the neighbouring session when it lies within `min_seconds` of it, and otherwise starts a session that
  ends at that sample (`closed_by = late`; further late samples extend it). A late sample that is not use
  changes nothing, with one exception: falling after a closed session's last in-use sample and before its
  end, it ends the session there, where the samples in order would have ended it (the newer sample that
  closed it came first: another ingest worker had it). Late data never splits or closes a session.

A session keeps every in-use sample once processed covered, and processing any sample a second time
changes nothing (tests/unit/backend/test_usage_rules.py checks both with hypothesis). Messages handled out
of device order by less than `min_seconds` (several ingest workers, one restarting) give the sessions that
count as the messages in order do (checked there too)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import NamedTuple, Protocol, TypeGuard

from backend.domain.telemetry_checks import ns_to_datetime

STATES = ("idle", "setup", "running", "cleaning", "fault", "maintenance")


USE_STATES = frozenset({"setup", "running", "cleaning"})


CLOSED_BY_STATE = "state"


TELEMETRY = "telemetry"  # the source of an observation from a telemetry sample (a status birth's: "status")


CLOSED_BY_OFFLINE = "offline"


CLOSED_BY_LATE = "late"


def is_state(value: object) -> TypeGuard[str]:
    """True for the contract's six work states (anything else is no usage observation)."""
    return isinstance(value, str) and value in STATES


def counts_as_use(state: str) -> bool:
    return state in USE_STATES


@dataclass(frozen=True)
class UsageRules:
    min_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.min_seconds < 0:
            raise ValueError("min_seconds must not be negative")

    @property
    def gap(self) -> timedelta:
        return timedelta(seconds=self.min_seconds)


class Observation(NamedTuple):
    """One `state` reading at device time `at` (a named tuple: ingest makes many, and a frozen dataclass
    cost several times as much to make)."""

    at: datetime
    state: str
    source: str = TELEMETRY
    #: the agent whose message carried it (the session records which agents' data produced it)
    agent: str | None = None


@dataclass(eq=False)
class Span:
    """A usage session as the tracker sees it; `key` is the stored row's id (None until stored)."""

    start: datetime
    end: datetime | None
    last_seen: datetime
    states: set[str] = field(default_factory=set)
    source: str = "telemetry"
    closed_by: str | None = None
    key: int | None = None
    agents: set[str] = field(default_factory=set)

    def credit(self, obs: Observation) -> bool:
        """Record the observation's agent among the session's; True when it was not there yet."""
        if obs.agent is None or obs.agent in self.agents:
            return False
        self.agents.add(obs.agent)
        return True

    @property
    def is_open(self) -> bool:
        return self.end is None

    def covers(self, at: datetime) -> bool:
        """True when `at` lies in the session (its in-use samples all do, whatever closed it)."""
        return self.start <= at and (self.end is None or at < self.end or at <= self.last_seen)

    def finish(self) -> datetime:
        """Where the session's time stops: its end, or while open its newest sample."""
        return self.end if self.end is not None else self.last_seen

    def is_short(self, rules: UsageRules) -> bool:
        return self.end is not None and self.end - self.start < rules.gap

    def snapshot(
        self,
    ) -> tuple[datetime, datetime | None, datetime, frozenset[str], str | None, frozenset[str]]:
        return (
            self.start,
            self.end,
            self.last_seen,
            frozenset(self.states),
            self.closed_by,
            frozenset(self.agents),
        )


class SpanStore(Protocol):
    """The sessions of one resource, as far as one batch needs them."""

    def covering(self, at: datetime) -> Span | None: ...

    def before(self, at: datetime) -> Span | None:
        """The session with the latest start at or before `at`."""
        ...

    def after(self, at: datetime) -> Span | None:
        """The session with the earliest start after `at`."""
        ...

    def add(self, span: Span) -> None: ...

    def remove(self, span: Span) -> None: ...


class SpanList:
    """A `SpanStore` over a plain list (unit tests, and the reference for the SQL one)."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self.spans: list[Span] = list(spans)

    def covering(self, at: datetime) -> Span | None:
        return next((s for s in self.spans if s.covers(at)), None)

    def before(self, at: datetime) -> Span | None:
        earlier = [s for s in self.spans if s.start <= at]
        return max(earlier, key=lambda s: s.start, default=None)

    def after(self, at: datetime) -> Span | None:
        later = [s for s in self.spans if s.start > at]
        return min(later, key=lambda s: s.start, default=None)

    def add(self, span: Span) -> None:
        self.spans.append(span)

    def remove(self, span: Span) -> None:
        self.spans.remove(span)

    def sorted(self) -> list[Span]:
        return sorted(self.spans, key=lambda s: s.start)


class Tracker:
    """Applies observations of one resource to its sessions, as the module docstring describes.

    `cursor` is the device time of the newest observation processed before (None: never any); `open`
    the session open now. Afterwards `cursor`, `open`, `touched` (sessions to write) and `removed`
    (sessions merged into another) tell the caller what to persist.
    """

    def __init__(
        self, store: SpanStore, rules: UsageRules, cursor: datetime | None, open_span: Span | None
    ) -> None:
        self.store = store
        self.rules = rules
        self.cursor = cursor
        self.cursor_state: str | None = None
        self.latest_seen: datetime | None = None  # newest observation given to this tracker, late or not
        self.open = open_span
        self.touched: list[Span] = []
        self.removed: list[Span] = []

    def _touch(self, span: Span) -> None:
        if span not in self.touched:
            self.touched.append(span)

    def observe(self, obs: Observation) -> None:
        if self.latest_seen is None or obs.at > self.latest_seen:
            self.latest_seen = obs.at
        if self.cursor is not None and obs.at <= self.cursor:
            self._late(obs)
            return
        self.cursor = obs.at
        self.cursor_state = obs.state
        if counts_as_use(obs.state):
            self._use(obs)
        elif self.open is not None:
            self.open.end = obs.at
            self.open.closed_by = CLOSED_BY_STATE
            self._touch(self.open)
            self.open = None

    def offline(self) -> None:
        """The agent is gone: its open session ends at the last in-use sample seen.

        A Last Will that follows, in its batch, only samples older than the open session's newest one is
        a re-delivered old message (the agent came back since): it is ignored.
        """
        newest = self.latest_seen if self.latest_seen is not None else self.cursor
        if self.open is not None and (newest is None or self.open.last_seen <= newest):
            self.open.end = self.open.last_seen
            self.open.closed_by = CLOSED_BY_OFFLINE
            self._touch(self.open)
            self.open = None

    def _use(self, obs: Observation) -> None:
        span = self.open
        if span is None:
            previous = self.store.before(obs.at)
            if previous is not None and previous.end is not None and obs.at - previous.end < self.rules.gap:
                span = previous  # a short pause, or back after an offline close: the session goes on
                span.end = None
                span.closed_by = None
            else:
                span = Span(obs.at, None, obs.at, set(), obs.source)
                self.store.add(span)
            self.open = span
        if obs.at > span.last_seen:
            span.last_seen = obs.at
        if obs.state not in span.states:
            span.states.add(obs.state)
        span.credit(obs)
        self._touch(span)

    def _late(self, obs: Observation) -> None:
        if self.open is not None and self.open.covers(obs.at):
            covering: Span | None = self.open  # the common replay: no need to ask the store
        else:
            covering = self.store.covering(obs.at)
        if covering is not None:
            self._late_inside(covering, obs)
            return
        if not counts_as_use(obs.state):
            return  # late data never splits or closes a session
        previous = self.store.before(obs.at)
        following = self.store.after(obs.at)
        if previous is not None and obs.at - previous.finish() < self.rules.gap:
            span = previous
            span.last_seen = max(span.last_seen, obs.at)
            if span.end is not None and span.end < obs.at:
                span.end = obs.at
                span.closed_by = CLOSED_BY_LATE
        elif following is not None and following.start - obs.at < self.rules.gap:
            span = following
            span.start = obs.at
        else:
            span = Span(obs.at, obs.at, obs.at, set(), obs.source, CLOSED_BY_LATE)
            self.store.add(span)
        span.states.add(obs.state)
        span.credit(obs)
        self._touch(span)
        if (
            following is not None
            and following is not span
            and following.start - span.finish() < self.rules.gap
        ):
            self._absorb(span, following)

    def _late_inside(self, span: Span, obs: Observation) -> None:
        """A late sample inside a session. In use: the session has seen it. Not in use, after the last
        in-use sample and before the end: the session ends there, where it would have ended had the samples
        come in order (the newer sample that closed it came first: another ingest worker had it)."""
        if counts_as_use(obs.state):
            touched = span.credit(obs)
            if obs.at > span.last_seen:
                span.last_seen = obs.at
                touched = True
            if obs.state not in span.states:
                span.states.add(obs.state)
                touched = True
            if touched:
                self._touch(span)
        elif span.end is not None and span.last_seen < obs.at < span.end:
            span.end = obs.at
            self._touch(span)

    def _absorb(self, span: Span, following: Span) -> None:
        """`following` starts within the minimum pause of `span`'s end: one session."""
        span.end = following.end
        span.closed_by = following.closed_by
        span.last_seen = max(span.last_seen, following.last_seen)
        span.states |= following.states
        span.agents |= following.agents
        if self.open is following:
            self.open = span
        self.store.remove(following)
        if following in self.touched:
            self.touched.remove(following)
        self.removed.append(following)


def track(
    observations: Iterable[Observation | None],
    rules: UsageRules,
    store: SpanStore | None = None,
    cursor: datetime | None = None,
    open_span: Span | None = None,
) -> Tracker:
    """Run observations (None = the agent went offline) through a tracker, in the order given."""
    tracker = Tracker(store if store is not None else SpanList(), rules, cursor, open_span)
    for obs in observations:
        if obs is None:
            tracker.offline()
        else:
            tracker.observe(obs)
    return tracker


class Readings(NamedTuple):
    """One telemetry message's samples (device time in ns, fields) as ingest decoded them: its `state`
    readings, made into observations only as far as they matter (`observations`)."""

    agent: str | None
    points: Sequence[tuple[int, Mapping[str, object]]]


_STATE_SET = frozenset(STATES)


def observations(
    items: Sequence[Observation | Readings | None], cursor_ns: int | None
) -> list[Observation | None]:
    """A batch's items for one resource as observations for `thin(in_device_order(...))`.

    Most batches are messages of one agent in device order, each newer than the one before and than the
    cursor (`cursor_ns`, the tracker's, in ns). Of such a batch `thin` keeps only the first and the last
    of each run of one state, so a message's run needs no observation between them: an observation per
    sample cost ingest more than the rest of usage tracking. Any other batch (a message out of order or
    overlapping another, a late one, a Last Will, a status birth) gets every reading as an observation.
    `thin(in_device_order(observations(x, c)), c)` equals `thin(in_device_order(every(x)), c)`
    (tests/unit/backend/test_usage_rules.py)."""
    edges = _run_edges(items, cursor_ns)
    return edges if edges is not None else _every(items)


def _run_edges(
    items: Sequence[Observation | Readings | None], cursor_ns: int | None
) -> list[Observation | None] | None:
    """The first and last reading of each run of one state inside each message, or None when the batch is
    not all messages in strictly increasing device time (to the microsecond, as observations hold it)
    newer than the cursor."""
    kept: list[Observation | None] = []
    states = _STATE_SET
    floor = -1 if not cursor_ns else cursor_ns // 1000
    for item in items:
        if not isinstance(item, Readings):
            return None
        agent = item.agent
        run: str | None = None
        first = last = 0
        for ns, fields in item.points:
            state = fields.get("state")
            if type(state) is not str or state not in states:
                continue
            us = ns // 1000
            if us <= floor:
                return None
            floor = us
            if state != run:
                if run is not None and last != first:
                    kept.append(Observation(ns_to_datetime(last * 1000), run, TELEMETRY, agent))
                kept.append(Observation(ns_to_datetime(ns), state, TELEMETRY, agent))
                run, first = state, us
            last = us
        if run is not None and last != first:
            kept.append(Observation(ns_to_datetime(last * 1000), run, TELEMETRY, agent))
    return kept


def _every(items: Sequence[Observation | Readings | None]) -> list[Observation | None]:
    out: list[Observation | None] = []
    for item in items:
        if not isinstance(item, Readings):
            out.append(item)
            continue
        agent = item.agent
        out.extend(
            Observation(ns_to_datetime(ns), state, TELEMETRY, agent)
            for ns, fields in item.points
            if is_state(state := fields.get("state"))
        )
    return out


def in_device_order(items: Sequence[Observation | None]) -> list[Observation | None]:
    """Sort the observations between two offline markers by device time (a batch is not always sorted;
    the offline marker has no device time, so it stays where it arrived)."""
    result: list[Observation | None] = []
    run: list[Observation] = []
    for item in items:
        if item is None:
            result.extend(_by_time(run))
            result.append(None)
            run = []
        else:
            run.append(item)
    result.extend(_by_time(run))
    return result


def thin(ordered: Sequence[Observation | None], cursor: datetime | None) -> list[Observation | None]:
    """`ordered` (as `in_device_order` gives it) without the observations that change nothing.

    Inside a run of observations with the same state, source and agent, all newer than `cursor`, only
    the first and the last matter: the first opens, continues or closes a session, the ones between
    only move the cursor and the open session's last sample forward, which the last one does too. An
    instrument sends its state with every sample, so this leaves a few observations per message of a
    hundred (the database's usage tracking cost one pass of the tracker per sample). `track(thin(x))`
    leaves the sessions `track(x)` does (tests/unit/backend/test_usage_rules.py)."""
    kept: list[Observation | None] = []
    last = len(ordered) - 1
    newest = cursor  # the tracker's cursor when it reaches `before` (device order holds only between Wills)
    in_order = False  # whether `before` (the previous observation) was newer than the cursor
    for i, item in enumerate(ordered):
        if item is None:
            in_order = False
            kept.append(item)
            continue
        before, after = ordered[i - 1] if i else None, ordered[i + 1] if i < last else None
        droppable = (
            in_order and before is not None and after is not None and before[1:] == item[1:] == after[1:]
        )
        in_order = newest is None or item.at > newest
        if in_order:
            newest = item.at
        if not droppable:
            kept.append(item)
    return kept


_AT = itemgetter(0)  # an observation's `at`


def _by_time(observations: list[Observation]) -> list[Observation]:
    return sorted(observations, key=_AT)
