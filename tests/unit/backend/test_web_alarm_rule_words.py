"""An alarm rule as its page says it: the words for when it raises and when it clears mean what ingest
judges (`backend.domain.alarm_rules`), limits read as people write them, and a rule reads as a sentence
in either language."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backend.domain.alarm_rules import Comparison, Rule, Severity, holds
from backend.i18n import language
from backend.models.alarm_rule import AlarmRule
from backend.models.platform import Platform
from backend.models.resource import Resource, ResourceKind
from backend.web.operator_alarm_rules import COMPARISONS, PlatformFacts, figure

#: what each word of the page claims of a value and a bound
MEANS: dict[str, Callable[[float, float], bool]] = {
    "above": lambda value, bound: value > bound,
    "at or above": lambda value, bound: value >= bound,
    "below": lambda value, bound: value < bound,
    "at or below": lambda value, bound: value <= bound,
}


@pytest.mark.parametrize("comparison", list(Comparison))
def test_the_words_mean_what_ingest_judges(comparison: Comparison) -> None:
    raises, clears = COMPARISONS[comparison]
    rule = Rule(1, "r", "t", comparison, 40.0, 39.0, 0, Severity.warning)
    for value in (38.0, 39.0, 39.5, 40.0, 41.0):
        assert MEANS[raises](value, rule.limit) == holds(comparison, value, rule.limit), (raises, value)
        assert MEANS[clears](value, rule.clear_at) == rule.recovered(value), (clears, value)


@pytest.mark.parametrize(
    ("value", "written"),
    [(40.0, "40"), (6.5, "6.5"), (-0.25, "-0.25"), (1e12, "1000000000000"), (1e-7, "0.0000001")],
)
def test_a_limit_reads_as_people_write_it(value: float, written: str) -> None:
    assert figure(value) == written


def test_a_rule_reads_as_a_sentence_in_either_language() -> None:
    fermenter = Resource(
        id=7,
        platform_id=1,
        code="F5-2",
        kind=ResourceKind.instrument,
        name="5 L 发酵罐",
        name_en="5 L fermenter",
    )
    facts = PlatformFacts(Platform(id=1, code="p", name="平台"), [fermenter], {7: {"temperature_c": "°C"}})
    rule = AlarmRule(
        id=3,
        platform_id=1,
        resource_id=7,
        code="hot",
        name="hot",
        signal="temperature_c",
        comparison=">=",
        limit=40.0,
        clear_limit=None,
        duration_seconds=90,
    )
    with language("en"):
        view = facts.view(rule, 2)
        assert (view.applies_to, view.sentence, view.clears) == (
            "5 L fermenter · F5-2",
            "Temperature at or above 40 °C, for 90 s",
            "below 40",
        )
    with language("zh"):
        view = facts.view(rule, 2)
        assert (view.applies_to, view.sentence) == ("5 L 发酵罐 · F5-2", "温度 不低于 40 °C，持续 90 秒")
