"""Judging a threshold rule sample by sample: the condition must hold for its duration, hysteresis clears
the alarm only past the clear limit, and an alarm a person cleared is not raised again until the signal
has come back inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.alarm_rules import (
    Comparison,
    Open,
    Rule,
    Severity,
    Standing,
    Verdict,
    clear_limit_problem,
    judge,
    judge_samples,
    numeric,
)
from backend.domain.telemetry_checks import datetime_to_ns, ns_to_datetime

T0 = datetime(2026, 12, 1, tzinfo=UTC)
HOT = Rule(1, "hot", "temperature_c", Comparison.gt, 1000, 950, 30, Severity.critical)


def run(rule: Rule, values: list[float], standing: Standing | None = None) -> list[Verdict]:
    standing = standing or Standing(None, Open.none)
    return [judge(rule, standing, T0 + timedelta(seconds=i), v) for i, v in enumerate(values)]


def test_the_condition_must_hold_for_the_duration() -> None:
    verdicts = run(HOT, [1001] * 31)
    assert verdicts.index(Verdict.raise_) == 30
    assert Verdict.raise_ not in run(HOT, [1001] * 20 + [999] + [1001] * 20)


def test_hysteresis_clears_only_past_the_clear_limit() -> None:
    verdicts = run(HOT, [1001] * 31 + [990, 960, 951, 950])
    assert verdicts[31:] == [Verdict.nothing, Verdict.nothing, Verdict.nothing, Verdict.clear]


def test_without_hysteresis_the_limit_itself_clears_and_lower_rules_look_down() -> None:
    low = Rule(2, "ph", "ph", Comparison.lt, 6.5, None, 0, Severity.warning)
    assert run(low, [6.6, 6.4, 6.45, 6.5]) == [
        Verdict.nothing,
        Verdict.raise_,
        Verdict.nothing,
        Verdict.clear,
    ]


def test_an_alarm_a_person_cleared_stays_down_until_the_signal_comes_back() -> None:
    latched = Standing(T0, Open.latched)
    verdicts = run(HOT, [1100] * 40 + [900] + [1100] * 31, latched)
    assert verdicts[40] is Verdict.unlatch
    assert verdicts[:40] == [Verdict.nothing] * 40 and verdicts[-1] is Verdict.raise_


def test_clear_limits_on_the_wrong_side_and_values_that_are_no_numbers() -> None:
    assert clear_limit_problem(Comparison.gt, 1000, 1010) is not None
    assert clear_limit_problem(Comparison.lt, 6.5, 6.4) is not None
    assert clear_limit_problem(Comparison.le, 6.5, 6.6) is None
    assert [numeric(v) for v in (True, "7", float("nan"), 3)] == [None, None, None, 3.0]


_VALUES = st.one_of(
    st.floats(min_value=900, max_value=1100),
    st.sampled_from([float("nan"), float("inf")]),
    st.integers(900, 1100),
    st.sampled_from([None, True, "hot"]),
)


@given(
    values=st.lists(st.tuples(st.integers(0, 120), _VALUES), max_size=60),
    after=st.integers(-1, 60),
    start=st.sampled_from(list(Open)),
    breach=st.sampled_from([None, 0, 10]),
)
@settings(max_examples=300, deadline=None)
def test_judging_a_batch_at_once_says_what_judging_each_sample_says(
    values: list[tuple[int, object]], after: int, start: Open, breach: int | None
) -> None:
    """ingest's fast loop (`judge_samples`) against `judge` called on every sample, as ingest did."""
    samples = sorted(
        (
            (datetime_to_ns(T0 + timedelta(seconds=s)), {} if v is None else {HOT.signal: v})
            for s, v in values
        ),
        key=lambda sample: sample[0],
    )
    since = None if breach is None else T0 + timedelta(seconds=breach)
    after_ns = datetime_to_ns(T0 + timedelta(seconds=after))
    fast, slow = Standing(since, start), Standing(since, start)
    newest, verdicts = judge_samples(HOT, fast, samples, after_ns)

    expected, last = [], after_ns
    for ts_ns, fields in samples:
        value = numeric(fields.get(HOT.signal))
        if ts_ns <= last or value is None:
            continue
        last = ts_ns
        verdict = judge(HOT, slow, ns_to_datetime(ts_ns), value)
        if verdict is not Verdict.nothing:
            expected.append((verdict, ns_to_datetime(ts_ns), value))
    assert (newest, verdicts, fast) == (last, expected, slow)
