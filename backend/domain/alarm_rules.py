"""Threshold alarm rules, judged sample by sample in device time.

A rule's condition is `signal <comparison> limit`. Once it has held for `duration_seconds` (from the
first sample beyond the limit to the current one; a single sample back inside resets it) the rule
raises an alarm. The alarm clears at the first sample back past the clear limit: `clear_limit` when the
rule has hysteresis, else `limit` itself. An alarm a person cleared while the condition still held
is not raised again until the signal has come back inside once.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backend.domain.telemetry_checks import ns_to_datetime

#: (device time in ns, fields) of one sample; a state event is a sample with only `state`
Sample = tuple[int, Mapping[str, object]]


class Comparison(StrEnum):
    gt = ">"
    ge = ">="
    lt = "<"
    le = "<="


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


def holds(comparison: Comparison, value: float, limit: float) -> bool:
    if comparison is Comparison.gt:
        return value > limit
    if comparison is Comparison.ge:
        return value >= limit
    if comparison is Comparison.lt:
        return value < limit
    return value <= limit


def upward(comparison: Comparison) -> bool:
    return comparison in (Comparison.gt, Comparison.ge)


def clear_limit_problem(comparison: Comparison, limit: float, clear_limit: float) -> str | None:
    """Why `clear_limit` makes no hysteresis for this rule, or None."""
    if upward(comparison) and clear_limit > limit:
        return f"must not be above the limit ({limit:g}) of a rule on values above it"
    if not upward(comparison) and clear_limit < limit:
        return f"must not be below the limit ({limit:g}) of a rule on values below it"
    return None


def numeric(value: object) -> float | None:
    """The sample's value as a number, or None (booleans, strings, NaN and infinities are not judged)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if kind is int:
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Rule:
    id: int
    code: str
    signal: str
    comparison: Comparison
    limit: float
    clear_limit: float | None
    duration_seconds: float
    severity: Severity

    @property
    def clear_at(self) -> float:
        """The limit a value must come back past to clear the alarm: `clear_limit`, else `limit`."""
        return self.limit if self.clear_limit is None else self.clear_limit

    def recovered(self, value: float) -> bool:
        return not holds(self.comparison, value, self.clear_at)

    def describe(self, value: float) -> str:
        return f"{self.signal} {value:g} {self.comparison.value} {self.limit:g}"


class Open(StrEnum):
    """What the rule holds on the resource: nothing, an alarm it raised, or an alarm a person cleared
    while the condition still held (latched until the signal comes back)."""

    none = "none"
    alarm = "alarm"
    latched = "latched"


class Verdict(StrEnum):
    nothing = "nothing"
    raise_ = "raise"
    clear = "clear"
    unlatch = "unlatch"


@dataclass
class Standing:
    breach_since: datetime | None
    open: Open


def judge(rule: Rule, standing: Standing, at: datetime, value: float) -> Verdict:
    """One sample, in device-time order; updates `standing` and says what to do."""
    if standing.open is not Open.none:
        if not rule.recovered(value):
            return Verdict.nothing
        verdict = Verdict.clear if standing.open is Open.alarm else Verdict.unlatch
        standing.open, standing.breach_since = Open.none, None
        return verdict
    if not holds(rule.comparison, value, rule.limit):
        standing.breach_since = None
        return Verdict.nothing
    if standing.breach_since is None:
        standing.breach_since = at
    if at - standing.breach_since >= timedelta(seconds=rule.duration_seconds):
        standing.open = Open.alarm
        return Verdict.raise_
    return Verdict.nothing


#: `holds` as one C function per comparison, for the hot loop
_HOLDS: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.gt: operator.gt,
    Comparison.ge: operator.ge,
    Comparison.lt: operator.lt,
    Comparison.le: operator.le,
}


def judge_samples(
    rule: Rule, standing: Standing, ordered: Iterable[Sample], after_ns: int
) -> tuple[int, list[tuple[Verdict, datetime, float]]]:
    """Judge, in order, the samples (device-time order) newer than `after_ns` that carry a number for
    the rule's signal; returns the newest time judged and what to do, in order (nothing left out).

    Ingest's hot loop: a sample that changes nothing (inside the limit with no breach running, or
    still beyond the clear limit of an open alarm) costs a comparison, no datetime and no call."""
    newest = after_ns
    signal, limit = rule.signal, rule.limit
    beyond = _HOLDS[rule.comparison]
    bound = rule.clear_at
    verdicts: list[tuple[Verdict, datetime, float]] = []
    for ts_ns, fields in ordered:
        if ts_ns <= newest:
            continue
        value = fields.get(signal)
        if type(value) is not float or value - value != 0.0:  # not a finite float (NaN - NaN is NaN)
            value = numeric(value)
            if value is None:
                continue
        newest = ts_ns
        if standing.open is Open.none:
            if standing.breach_since is None and not beyond(value, limit):
                continue
        elif beyond(value, bound):
            continue  # not recovered
        at = ns_to_datetime(ts_ns)
        verdict = judge(rule, standing, at, value)
        if verdict is not Verdict.nothing:
            verdicts.append((verdict, at, value))
    return newest, verdicts
