"""Judging a threshold rule sample by sample: the condition must hold for its duration, hysteresis clears
the alarm only past the clear limit, and an alarm a person cleared is not raised again until the signal
has come back inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.domain.alarm_rules import (
    Comparison,
    Open,
    Rule,
    Severity,
    Standing,
    Verdict,
    clear_limit_problem,
    judge,
    numeric,
)

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
