"""The sharing score: formulas, scales, rubric files and their variants."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.domain.errors import Invalid
from backend.domain.score import Undefined, evaluate, half_up, points_on, score
from backend.services.compliance.rubrics import load_rubric

DOC = Path(__file__).resolve().parents[3] / "docs" / "reports.md"


def test_formulas_compute_only_what_they_may() -> None:
    assert evaluate("(a + b) / max(c, 1) * 2 - min(a, 0.5)", {"a": 1, "b": 2, "c": 3}) == 1.5
    with pytest.raises(Undefined):
        evaluate("a / b", {"a": 1, "b": 0})
    with pytest.raises(Undefined):
        evaluate("a", {"a": None})
    with pytest.raises(ValueError, match="not allowed"):
        evaluate("a ** 2", {"a": 1})


def test_points_follow_the_scale_and_round_half_up() -> None:
    scale = [(0.0, 0.0), (1200.0, 15.0), (1600.0, 25.0)]
    assert [points_on(scale, v) for v in (-5, 0, 600, 1200, 1400, 1600, 9999)] == [0, 0, 7.5, 15, 20, 25, 25]
    assert half_up(2.675, 2) == 2.68 and round(2.675, 2) == 2.67  # a person rounds 2.675 up
    assert half_up(0.00005, 4) == 0.0001


def test_the_national_rubric_weighs_40_20_40() -> None:
    rubric = load_rubric()
    assert rubric.id == "national-2021" and rubric.max_points == 100
    assert [(s.id, s.points) for s in rubric.sections] == [
        ("operation", 40),
        ("sharing", 20),
        ("management", 40),
    ]
    assert [g.start for g in rubric.grades] == [85, 70, 60, 0]


def _figures(**changes: object) -> dict[str, object]:
    figures: dict[str, object] = {
        "effective_hours": 1400.0,
        "external_hours": 300.0,
        "sharing_rate": 0.2143,
        "smes_served": 3,
        "counted": {"instruments": 1},
        "period": {"days": 365},
        "key_projects": {"completed": 6},
        "income": {"internal": "25000.00", "external": "80000.00"},
        "management": {"resources": 4, "active": 3, "priced": 2},
        "response_hours": {
            "ordinary": {"within_sla": 3, "decisions": 4},
            "green_channel": {"within_sla": 1, "decisions": 1},
        },
        "audit": {"ok": True},
    }
    figures.update(changes)
    return figures


def _reader(figures: dict[str, object]):  # type: ignore[no-untyped-def]
    def figure(path: str) -> object:
        value: object = figures
        for part in path.split("."):
            assert isinstance(value, dict)
            value = value[part]
        return value

    return figure


def test_the_same_figures_give_the_same_score_and_nulls_score_nothing() -> None:
    rubric = load_rubric()
    first, again = score(rubric, _reader(_figures())), score(rubric, _reader(_figures()))
    assert first == again
    points = {i.id: i.points for i in first.indicators}
    assert points["effective_hours"] == 20.0  # 1400 h: halfway from 1200 (15) to 1600 (25)
    assert points["external_hours"] == 6.13  # 300 h: 5 + 3 × 60 / 160 = 6.125, half up
    assert points["response"] == 7.6  # 4 of 5: 4 + 6 × 0.3 / 0.5
    assert first.grade_en in ("good", "excellent", "pass", "poor")
    nothing = score(rubric, _reader(_figures(sharing_rate=None, counted={"instruments": 0})))
    by_id = {i.id: i for i in nothing.indicators}
    assert by_id["sharing_rate"].value is None and by_id["sharing_rate"].points == 0
    assert by_id["effective_hours"].value is None and by_id["effective_hours"].points == 0


def test_a_provincial_variant_from_the_documentation_extends_the_national_rubric(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"### Provincial variants.*?```yaml\n(.*?)```", text, re.DOTALL)
    assert example is not None
    (tmp_path / "shandong.yaml").write_text(example.group(1), encoding="utf-8")
    variant = load_rubric("shandong-2026", str(tmp_path))
    national = load_rubric(None, str(tmp_path))
    assert variant.max_points == 100 and variant.sha256 != national.sha256
    ids = {i.id for s in variant.sections for i in s.indicators}
    assert "internal_income" not in ids and "smes_served" in ids
    assert [g.start for g in variant.grades] == [90, 60, 0]
    scored = score(variant, _reader(_figures()))
    assert {i.id: i.max for i in scored.indicators}["smes_served"] == 9


@pytest.mark.parametrize(
    ("formula", "scale", "message"),
    [
        ("__import__('os')", "[[0, 0], [1600, 25]]", "'__import__', which is not one of its inputs"),
        ("effective_hours ** 2", "[[0, 0], [1600, 25]]", "not allowed in a formula"),
        ("effective_hours * other", "[[0, 0], [1600, 25]]", "'other', which is not one of its inputs"),
        (
            "effective_hours",
            "[[0, 0], [1600, 30]]",
            "sections.operation.points: 40, but its indicators give at most 45",
        ),
    ],
)
def test_a_malformed_rubric_is_refused_naming_the_rubric(
    tmp_path: Path, formula: str, scale: str, message: str
) -> None:
    (tmp_path / "bad.yaml").write_text(
        f"""id: bad
version: 1
title: bad
extends: national-2021
sections:
  - id: operation
    indicators:
      - id: effective_hours
        name: x
        inputs: {{effective_hours: effective_hours}}
        formula: "{formula}"
        scale: {scale}
""",
        encoding="utf-8",
    )
    with pytest.raises(Invalid) as refused:
        load_rubric("bad", str(tmp_path))
    assert refused.value.field == "rubric" and message in refused.value.message
    with pytest.raises(Invalid, match="unknown rubric 'nope'"):
        load_rubric("nope", str(tmp_path))
