"""The report page reads the report's `score` (issue 10's shape) into one view: bilingual rubric names
in the reader's language, inputs, formula, value and points per indicator."""

from __future__ import annotations

from backend.i18n import language
from backend.web.audit import score_view

SCORE = {
    "rubric": {"id": "national-2021", "title": "国家评价 · national evaluation", "sha256": "ab"},
    "total": 61.5,
    "max": 100,
    "grade": "合格",
    "grade_en": "pass",
    "sections": [{"id": "sharing", "name": "共享成效 · sharing results", "points": 12.5, "max": 20}],
    "indicators": [
        {
            "id": "sharing_rate",
            "section": "sharing",
            "name": "共享率 · sharing rate",
            "inputs": {"rate": 0.4077},
            "formula": "rate",
            "value": 0.4077,
            "scale": [[0, 0], [0.1, 4]],
            "points": 4.0,
            "max": 4.0,
        }
    ],
}


def test_names_in_the_readers_language() -> None:
    with language("zh"):
        zh = score_view(SCORE)
    with language("en"):
        en = score_view(SCORE)
    assert zh is not None and en is not None
    assert (zh["grade"], en["grade"]) == ("合格", "pass")
    assert (zh["indicators"][0]["name"], en["indicators"][0]["name"]) == ("共享率", "sharing rate")
    assert en["sections"][0] == {"name": "sharing results", "points": 12.5, "max": 20}
    assert en["rubric"] == {"title": "national evaluation", "sha256": "ab"}


def test_inputs_formula_value_and_points_are_kept() -> None:
    view = score_view(SCORE)
    assert view is not None
    indicator = view["indicators"][0]
    assert indicator["inputs"] == {"rate": 0.4077} and indicator["formula"] == "rate"
    assert (indicator["value"], indicator["points"], indicator["max"]) == (0.4077, 4.0, 4.0)


def test_no_score_is_none() -> None:
    assert score_view(None) is None
