"""Usage-session rules: state samples in, sessions out; replays and late samples change nothing."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.telemetry_checks import datetime_to_ns, ns_to_datetime
from backend.domain.usage import (
    STATES,
    Observation,
    Readings,
    Span,
    SpanList,
    Tracker,
    UsageRules,
    counts_as_use,
    in_device_order,
    is_state,
    observations,
    thin,
    track,
)
from backend.domain.usage_figures import BookedSlot, booking_figures, clip, covered, pick_booking

T0 = datetime(2026, 12, 1, tzinfo=UTC)
RULES = UsageRules(min_seconds=60)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def obs(seconds: float, state: str) -> Observation:
    return Observation(t(seconds), state)


def spans_of(tracker: Tracker) -> list[tuple[float, float | None, str | None]]:
    store = tracker.store
    assert isinstance(store, SpanList)
    return [
        ((s.start - T0).total_seconds(), None if s.end is None else (s.end - T0).total_seconds(), s.closed_by)
        for s in store.sorted()
    ]


def run(items: list[Observation | None], rules: UsageRules = RULES) -> Tracker:
    return track(items, rules)


# --------------------------------------------------------------------------- examples


def test_setup_running_cleaning_is_one_session_closed_by_the_first_idle_sample() -> None:
    tracker = run(
        [obs(0, "idle"), obs(10, "setup"), obs(100, "running"), obs(900, "cleaning"), obs(1200, "idle")]
    )
    assert spans_of(tracker) == [(10, 1200, "state")]
    store = tracker.store
    assert isinstance(store, SpanList)
    assert store.spans[0].states == {"setup", "running", "cleaning"}
    assert tracker.open is None


@pytest.mark.parametrize("stop", ["idle", "fault", "maintenance"])
def test_idle_fault_and_maintenance_are_not_use(stop: str) -> None:
    assert not counts_as_use(stop)
    assert spans_of(run([obs(0, "running"), obs(600, stop), obs(1200, stop)])) == [(0, 600, "state")]


def test_a_pause_shorter_than_the_minimum_is_merged_and_a_longer_one_splits() -> None:
    merged = run([obs(0, "running"), obs(300, "idle"), obs(359, "running"), obs(900, "idle")])
    assert spans_of(merged) == [(0, 900, "state")]
    split = run([obs(0, "running"), obs(300, "idle"), obs(360, "running"), obs(900, "idle")])
    assert spans_of(split) == [(0, 300, "state"), (360, 900, "state")]


def test_a_flicker_shorter_than_the_minimum_is_kept_but_short() -> None:
    tracker = run([obs(0, "idle"), obs(100, "running"), obs(130, "idle"), obs(1000, "idle")])
    store = tracker.store
    assert isinstance(store, SpanList)
    (flicker,) = store.spans
    assert flicker.is_short(RULES)
    longer = run([obs(100, "running"), obs(160, "idle")]).store
    assert isinstance(longer, SpanList) and not longer.spans[0].is_short(RULES)
    assert not store.spans[0].is_short(UsageRules(min_seconds=0))


def test_offline_closes_at_the_last_sample_seen_and_a_quick_return_continues_the_session() -> None:
    tracker = run([obs(0, "running"), obs(50, "running"), obs(100, "running"), None])
    assert spans_of(tracker) == [(0, 100, "offline")]
    tracker.observe(obs(130, "running"))  # back 30 s later, still running: the same session
    assert spans_of(tracker) == [(0, None, None)]
    tracker.offline()
    tracker.observe(obs(1000, "running"))  # back after 15 minutes: a new session
    assert spans_of(tracker) == [(0, 130, "offline"), (1000, None, None)]


def test_unknown_state_values_are_no_observation() -> None:
    assert is_state("running") and not is_state("heating") and not is_state(2) and not is_state(None)
    assert set(STATES) == {"idle", "setup", "running", "cleaning", "fault", "maintenance"}


def test_a_replayed_sample_changes_nothing() -> None:
    first = [obs(0, "running"), obs(100, "running"), obs(200, "idle")]
    tracker = run(first)
    before = spans_of(tracker)
    again = track(first, RULES, tracker.store, tracker.cursor, tracker.open)
    assert spans_of(again) == before and again.touched == []


def test_late_in_use_samples_extend_their_neighbour_or_start_a_late_session() -> None:
    tracker = run([obs(0, "running"), obs(100, "idle"), obs(3600, "idle")])
    tracker.observe(obs(130, "running"))  # 30 s after the session's end: the same session, now longer
    assert spans_of(tracker) == [(0, 130, "late")]
    tracker.observe(obs(2000, "running"))  # far from any session: one of its own
    tracker.observe(obs(2010, "running"))
    assert spans_of(tracker) == [(0, 130, "late"), (2000, 2010, "late")]
    tracker.observe(obs(1990, "setup"))  # just before it: the session starts earlier
    assert spans_of(tracker) == [(0, 130, "late"), (1990, 2010, "late")]
    tracker.observe(obs(2500, "idle"))  # late data never closes or splits a session
    assert spans_of(tracker) == [(0, 130, "late"), (1990, 2010, "late")]


def test_a_late_sample_between_two_close_sessions_joins_them() -> None:
    tracker = run([obs(0, "running"), obs(100, "idle"), obs(200, "running"), obs(400, "idle")])
    assert spans_of(tracker) == [(0, 100, "state"), (200, 400, "state")]
    tracker.observe(obs(150, "running"))
    assert spans_of(tracker) == [(0, 400, "state")]
    assert len(tracker.removed) == 1


def test_a_stale_last_will_after_the_agent_came_back_is_ignored() -> None:
    # Batch [s1, will, birth, s2] handled once, then delivered again as a whole (not acknowledged).
    batch = [obs(0, "running"), None, obs(20, "running")]
    tracker = run(batch)
    assert spans_of(tracker) == [(0, None, None)]
    again = track(batch, RULES, tracker.store, tracker.cursor, tracker.open)
    assert spans_of(again) == [(0, None, None)] and again.open is tracker.open


def test_device_order_is_restored_between_offline_markers() -> None:
    items: list[Observation | None] = [
        obs(20, "idle"),
        obs(10, "running"),
        None,
        obs(40, "idle"),
        obs(30, "x"),
    ]
    assert in_device_order(items) == [
        obs(10, "running"),
        obs(20, "idle"),
        None,
        obs(30, "x"),
        obs(40, "idle"),
    ]


# --------------------------------------------------------------------------- properties

STEP = st.integers(min_value=1, max_value=150)
ITEM = st.one_of(st.sampled_from(STATES), st.just("offline"))


@st.composite
def streams(draw: st.DrawFn) -> list[Observation | None]:
    steps = draw(st.lists(st.tuples(STEP, ITEM), max_size=40))
    out: list[Observation | None] = []
    at = 0
    for step, item in steps:
        at += step
        out.append(None if item == "offline" else obs(at, item))
    return out


def reference(items: list[Observation | None], gap: timedelta) -> list[tuple[datetime, datetime | None]]:
    """The sessions of an in-order stream, built another way: runs of in-use samples, then joined."""
    runs: list[list[datetime | None]] = []  # [start, end, last in-use]
    current: list[datetime | None] | None = None
    for item in items:
        if item is None or not counts_as_use(item.state):
            if current is not None:
                current[1] = current[2] if item is None else item.at
                runs.append(current)
                current = None
        elif current is None:
            current = [item.at, None, item.at]
        else:
            current[2] = item.at
    if current is not None:
        runs.append(current)
    joined: list[list[datetime | None]] = []
    for r in runs:
        previous = joined[-1] if joined else None
        if previous is not None and previous[1] is not None:
            start = r[0]
            assert start is not None
            if start - previous[1] < gap:
                previous[1], previous[2] = r[1], r[2]
                continue
        joined.append(list(r))
    return [(r[0], r[1]) for r in joined if r[0] is not None]


def batches(items: list[Observation | None], cuts: list[int]) -> list[list[Observation | None]]:
    edges = sorted({min(c, len(items)) for c in cuts} | {0, len(items)})
    return [items[a:b] for a, b in itertools.pairwise(edges)]


def feed(batch_list: list[list[Observation | None]], store: SpanList) -> Tracker:
    """Like ingest: one tracker per batch, carrying the cursor and the open session over."""
    cursor: datetime | None = None
    open_span: Span | None = None
    tracker = Tracker(store, RULES, None, None)
    for batch in batch_list:
        tracker = track(in_device_order(batch), RULES, store, cursor, open_span)
        cursor, open_span = tracker.cursor, tracker.open
    return tracker


@settings(max_examples=300)
@given(streams(), st.lists(st.integers(0, 40), max_size=6))
def test_in_order_streams_give_the_reference_sessions_however_they_are_batched(
    items: list[Observation | None], cuts: list[int]
) -> None:
    store = SpanList()
    feed(batches(items, cuts), store)
    assert [(s.start, s.end) for s in store.sorted()] == reference(items, RULES.gap)


@settings(max_examples=300)
@given(streams(), st.lists(st.integers(0, 40), max_size=6), st.data())
def test_redelivering_a_batch_changes_nothing(
    items: list[Observation | None], cuts: list[int], data: st.DataObject
) -> None:
    parts = batches(items, cuts)
    store = SpanList()
    last = feed(parts, store)
    before = [s.snapshot() for s in store.sorted()]
    if not parts:
        return
    # Redelivery keeps the order of messages; a batch beginning with a bare Last Will is the one case the
    # rule cannot tell from a new one (docs/usage.md), so the replayed slice starts with a sample.
    replay = data.draw(st.sampled_from(parts))
    while replay and replay[0] is None:
        replay = replay[1:]
    again = track(in_device_order(replay), RULES, store, last.cursor, last.open)
    assert [s.snapshot() for s in store.sorted()] == before
    assert again.open is last.open


@settings(max_examples=300)
@given(streams(), st.randoms(use_true_random=False))
def test_any_order_keeps_sessions_apart_and_every_use_sample_covered_even_when_replayed(
    items: list[Observation | None], rng: random.Random
) -> None:
    samples = [i for i in items if i is not None]
    shuffled = samples[:]
    rng.shuffle(shuffled)
    store = SpanList()
    tracker = Tracker(store, RULES, None, None)
    for o in shuffled:
        tracker.observe(o)
    spans = store.sorted()
    for a, b in itertools.pairwise(spans):
        assert a.finish() < b.start
    for o in samples:
        if counts_as_use(o.state):
            assert sum(s.covers(o.at) for s in spans) == 1
    before = [s.snapshot() for s in spans]
    for o in rng.sample(samples, len(samples)):
        tracker.observe(o)
    assert [s.snapshot() for s in store.sorted()] == before


# --------------------------------------------------------------------------- intervals, matching, figures


def test_clip_keeps_the_part_inside_the_period() -> None:
    period = (m(60), m(120))
    assert clip(m(30), m(90), period) == (m(60), m(90))
    assert clip(m(0), m(60), period) is None  # touching at the start only
    assert clip(m(120), m(180), period) is None
    assert clip(m(70), m(70), period) == (m(70), m(70))


def test_covered_counts_overlaps_once() -> None:
    assert covered([(m(0), m(60)), (m(30), m(90)), (m(120), m(130))]) == timedelta(minutes=100)
    assert covered([]) == timedelta(0)


def test_a_session_falls_in_the_booking_it_overlaps_most() -> None:
    a, b = BookedSlot(1, m(0), m(60)), BookedSlot(2, m(60), m(120))
    assert pick_booking((m(10), m(80)), [a, b]) == 1
    assert pick_booking((m(50), m(115)), [a, b]) == 2
    assert pick_booking((m(30), m(90)), [b, a]) == 1  # a tie goes to the earlier booking
    assert pick_booking((m(70), m(70)), [a, b]) == 2  # no length yet: the booking holding its start
    assert pick_booking((m(200), m(260)), [a, b]) is None


def test_booked_vs_actual_late_start_overrun_and_adjacent_unbooked_use() -> None:
    booked = (m(60), m(180))
    figures = booking_figures(
        booked,
        sessions=[(m(75), m(150)), (m(160), m(200))],
        unbooked=[(m(20), m(50)), (m(230), m(300)), (m(600), m(660))],
        now=m(1000),
    )
    assert figures.booked_minutes == 120
    assert figures.used_minutes == 75 + 20
    assert figures.late_start_minutes == 15 and figures.early_start_minutes == 0
    assert figures.overrun_minutes == 20
    assert figures.unbooked_adjacent_minutes == 30 + 10  # only the hour either side counts
    assert not figures.no_show and not figures.in_progress
    assert figures.utilization == pytest.approx(95 / 120)


def test_early_start_no_show_and_a_booking_still_running() -> None:
    early = booking_figures((m(60), m(120)), [(m(45), m(100))], [], now=m(1000))
    assert early.early_start_minutes == 15 and early.late_start_minutes == 0 and early.used_minutes == 40
    nothing = booking_figures((m(60), m(120)), [], [], now=m(1000))
    assert nothing.no_show and nothing.late_start_minutes is None and nothing.used_minutes == 0
    assert not booking_figures((m(60), m(120)), [], [], now=m(1000), could_run=False).no_show
    running = booking_figures((m(60), m(120)), [], [], now=m(90))
    assert running.in_progress and not running.no_show


@st.composite
def instrument_messages(draw: st.DrawFn) -> list[list[Observation]]:
    """An instrument's samples (1-10 s apart, states in runs) cut into messages of 1-6 samples."""
    runs = draw(st.lists(st.tuples(st.sampled_from(STATES), st.integers(1, 30)), min_size=1, max_size=12))
    samples: list[Observation] = []
    at = 0
    for state, length in runs:
        for _ in range(length):
            at += draw(st.integers(1, 10))
            samples.append(obs(at, state))
    cuts = draw(st.lists(st.integers(0, len(samples)), max_size=len(samples) // 2))
    edges = sorted({*cuts, 0, len(samples)})
    return [samples[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=400)
@given(instrument_messages(), st.randoms(use_true_random=False))
def test_workers_handling_messages_out_of_order_make_the_sessions_one_worker_makes(
    messages: list[list[Observation]], rng: random.Random
) -> None:
    """Several ingest workers share one instrument's messages: each is handled as its own batch, in an
    order off device order by less than the minimum pause (a batch time, a worker's restart); the sessions
    that count are those of the messages in order. (A flicker can differ: when the sample that ended it
    came first, the flicker ends at its own last sample.)"""
    skew = RULES.gap.total_seconds() / 2
    shuffled = sorted(messages, key=lambda msg: msg[0].at + timedelta(seconds=rng.uniform(0, skew)))
    in_order, mixed = SpanList(), SpanList()
    feed(list(messages), in_order)
    store_tracker = [None, None]  # cursor, open span carried from batch to batch, as ingest's rows do
    for message in shuffled:
        tracker = track(in_device_order(message), RULES, mixed, store_tracker[0], store_tracker[1])
        store_tracker = [tracker.cursor, tracker.open]
    assert counted(mixed) == counted(in_order)


def counted(store: SpanList) -> list[tuple[datetime, datetime | None, str | None, set[str]]]:
    """The sessions that count as use (flickers shorter than the minimum do not: docs/usage.md)."""
    return [(s.start, s.end, s.closed_by, s.states) for s in store.sorted() if not s.is_short(RULES)]


@st.composite
def agent_streams(draw: st.DrawFn) -> list[Observation | None]:
    """Like an instrument's: long runs of one state, now and then another agent or source."""
    steps = draw(st.lists(st.tuples(STEP, ITEM, st.integers(1, 6)), max_size=15))
    out: list[Observation | None] = []
    at = 0
    for step, item, repeat in steps:
        agent = draw(st.sampled_from([None, "a", "b"]))
        source = draw(st.sampled_from(["telemetry", "status"]))
        for _ in range(repeat):
            at += draw(st.sampled_from([0, 1, step]))
            out.append(None if item == "offline" else Observation(t(at), item, source, agent))
    return out


def sessions(store: SpanList, tracker: Tracker) -> list[tuple[object, ...]]:
    spans = [
        (s.start, s.end, s.last_seen, sorted(s.states), sorted(s.agents), s.source, s.closed_by)
        for s in store.sorted()
    ]
    return [spans, tracker.cursor, tracker.cursor_state, tracker.latest_seen]


@settings(max_examples=500)
@given(agent_streams(), st.lists(st.integers(0, 60), max_size=6), st.randoms(use_true_random=False))
def test_thinning_a_batch_leaves_the_sessions_its_every_sample_makes(
    items: list[Observation | None], cuts: list[int], rng: random.Random
) -> None:
    """Batches in any order, some delivered again: tracking only what `thin` keeps of each batch gives
    the sessions, cursor and state that tracking every observation gives."""
    parts = batches(items, cuts)
    rng.shuffle(parts)
    parts += parts[: rng.randint(0, 2)]
    results = []
    for thinned in (False, True):
        store = SpanList()
        cursor: datetime | None = None
        open_span: Span | None = None
        tracker = Tracker(store, RULES, None, None)
        for batch in parts:
            ordered = in_device_order(batch)
            tracker = track(thin(ordered, cursor) if thinned else ordered, RULES, store, cursor, open_span)
            cursor, open_span = tracker.cursor, tracker.open
        results.append(sessions(store, tracker))
    assert results[0] == results[1]


# --------------------------------------------------------------------------- observations of a batch

NS0 = datetime_to_ns(T0)


@st.composite
def message_batches(draw: st.DrawFn) -> list[Observation | Readings | None]:
    """A resource's items in one batch: telemetry messages (samples with and without a valid state, often
    in order, sometimes overlapping, late or within one microsecond), now and then a Last Will or a
    status birth."""
    ns = NS0 + draw(st.integers(0, 10**9))
    items: list[Observation | Readings | None] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["message"] * 6 + ["will", "birth"]))
        if kind == "will":
            items.append(None)
            continue
        if kind == "birth":
            items.append(Observation(ns_to_datetime(ns), draw(st.sampled_from(STATES)), "status", "a"))
            continue
        ns += draw(st.sampled_from([0, 1, 400, 1000, 10**9, -(10**9), -(5 * 10**9)]))
        points: list[tuple[int, dict[str, object]]] = []
        state = draw(st.sampled_from(STATES))
        for _ in range(draw(st.integers(0, 12))):
            ns += draw(st.sampled_from([1000, 1000, 10**8, 10**9, 30 * 10**9, 0, 1, -(10**9)]))
            if draw(st.integers(0, 3)) == 0:
                state = draw(st.sampled_from(STATES))
            extra = draw(st.sampled_from([{}, {"state": "bogus"}, {"state": 3}, {"temp": 1.5}]))
            fields = {"state": state} if draw(st.integers(0, 5)) else {"temp": 20.0}
            points.append((ns, fields | extra if "state" not in extra else extra))
        items.append(Readings(draw(st.sampled_from(["a", "b", None])), points))
    return items


def every_reading(items: list[Observation | Readings | None]) -> list[Observation | None]:
    out: list[Observation | None] = []
    for item in items:
        if isinstance(item, Readings):
            out.extend(
                Observation(ns_to_datetime(ns), str(f["state"]), "telemetry", item.agent)
                for ns, f in item.points
                if is_state(f.get("state"))
            )
        else:
            out.append(item)
    return out


@settings(max_examples=1000)
@given(message_batches(), st.one_of(st.none(), st.integers(NS0, NS0 + 40 * 10**9)))
def test_a_batch_observed_by_its_runs_thins_to_what_every_reading_thins_to(
    items: list[Observation | Readings | None], cursor_ns: int | None
) -> None:
    """`observations` leaves out readings inside a run only where `thin` would drop them anyway."""
    cursor = None if cursor_ns is None else ns_to_datetime(cursor_ns)
    if cursor_ns is not None:
        cursor_ns = datetime_to_ns(cursor)  # the cursor as the database holds it: whole microseconds
    expected = thin(in_device_order(every_reading(items)), cursor)
    assert thin(in_device_order(observations(items, cursor_ns)), cursor) == expected


def test_messages_in_order_become_the_edges_of_their_runs() -> None:
    first = Readings("a", [(NS0 + i * 10**9, {"state": "running", "t": 1.0}) for i in range(50)])
    second = Readings(
        "a", [(NS0 + (50 + i) * 10**9, {"state": "running" if i < 10 else "idle"}) for i in range(20)]
    )
    got = observations([first, second], NS0 - 1000)
    assert [(round((o.at - T0).total_seconds()), o.state) for o in got if o is not None] == [
        (0, "running"),
        (49, "running"),
        (50, "running"),
        (59, "running"),
        (60, "idle"),
        (69, "idle"),
    ]
    late = observations([first], NS0 + 10 * 10**9)  # the cursor is inside the message: every reading
    assert len(late) == 50
