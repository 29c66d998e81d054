"""The sharing score: a rubric (data) applied to the figures of a sharing report.

A rubric has sections (operation and use, sharing results, management) of indicators. Each indicator
names its inputs (figures of the report, by dotted path), a formula over them and a scale of
[value, points] pairs; the grade bands turn the total into a grade. Nothing here knows which figures
exist: the same code scores any rubric, so a province's variant is a file, not a change of code.
docs/reports.md says how to recompute every number by hand.
"""

from __future__ import annotations

import ast
import copy
import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {"min": min, "max": max}


class Undefined(ArithmeticError):
    """A formula that cannot be computed: a division by zero or an input that is null."""


@dataclass(frozen=True)
class Indicator:
    id: str
    section: str
    name: str
    inputs: tuple[tuple[str, str], ...]  # (name in the formula, dotted path in the report)
    formula: str
    scale: tuple[tuple[float, float], ...]

    @property
    def max_points(self) -> float:
        return max(p for _, p in self.scale)


@dataclass(frozen=True)
class Section:
    id: str
    name: str
    points: float
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Grade:
    grade: str
    grade_en: str
    start: float  # `from` in the file


@dataclass(frozen=True)
class Rubric:
    id: str
    version: int
    title: str
    sections: tuple[Section, ...]
    grades: tuple[Grade, ...]  # highest first
    sha256: str = ""

    @property
    def max_points(self) -> float:
        return sum(s.points for s in self.sections)


@dataclass(frozen=True)
class IndicatorScore:
    id: str
    section: str
    name: str
    inputs: dict[str, float | None]
    formula: str
    value: float | None
    scale: list[list[float]]
    points: float
    max: float


@dataclass(frozen=True)
class SectionScore:
    id: str
    name: str
    points: float
    max: float


@dataclass(frozen=True)
class Score:
    rubric: dict[str, Any]
    total: float
    max: float
    grade: str
    grade_en: str
    sections: list[SectionScore]
    indicators: list[IndicatorScore]


# --- numbers ------------------------------------------------------------------------------------


def half_up(value: float, places: int) -> float:
    """Rounded half away from zero, as a person rounds (Python's round() rounds half to even)."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def as_number(raw: object) -> float | None:
    """A report figure as a number: booleans are 1 and 0, money strings are read exactly."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str | Decimal):
        try:
            return float(Decimal(raw))
        except InvalidOperation:
            return None
    return None


def evaluate(formula: str, values: Mapping[str, float | None]) -> float:
    """The formula's value; Undefined for a division by zero or a null input."""
    return _eval(ast.parse(formula, mode="eval").body, values)


def _eval(node: ast.expr, values: Mapping[str, float | None]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        value = values.get(node.id)
        if value is None:
            raise Undefined(f"{node.id} is null")
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, values)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, values), _eval(node.right, values)
        if isinstance(node.op, ast.Div) and right == 0:
            raise Undefined("division by zero")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return _FUNCTIONS[node.func.id](*(_eval(a, values) for a in node.args))
    raise ValueError(f"not allowed in a formula: {ast.unparse(node)!r}")


def check_formula(formula: str, names: Sequence[str]) -> None:
    """Raise ValueError unless `formula` uses only numbers, + - * /, min, max and `names`."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{formula!r} is not a formula: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in names and node.id not in _FUNCTIONS:
            raise ValueError(f"{formula!r} uses {node.id!r}, which is not one of its inputs")
    evaluate(formula, dict.fromkeys(names, 1.0))  # every node kind is one _eval knows


def points_on(scale: Sequence[tuple[float, float]], value: float) -> float:
    """Linear between two [value, points] pairs, flat before the first and after the last."""
    if value <= scale[0][0]:
        return scale[0][1]
    for (x0, p0), (x1, p1) in itertools.pairwise(scale):
        if value <= x1:
            return p0 + (p1 - p0) * (value - x0) / (x1 - x0)
    return scale[-1][1]


# --- the rubric file --------------------------------------------------------------------------------


def extend(base: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    """A variant (`extends: <id>`) laid over its base rubric: its own id, version and title; sections
    by id (name and points replaced; indicators replaced by id, new ones added, `remove` ones dropped);
    its grades when it gives them."""
    merged = copy.deepcopy(dict(base))
    for key in ("id", "version", "title", "grades"):
        if key in variant:
            merged[key] = copy.deepcopy(variant[key])
    removed = set(variant.get("remove", []))
    sections = {s["id"]: s for s in merged.get("sections", [])}
    for changed in variant.get("sections", []):
        section = sections.get(changed.get("id"))
        if section is None:
            merged.setdefault("sections", []).append(copy.deepcopy(changed))
            continue
        for key in ("name", "points"):
            if key in changed:
                section[key] = changed[key]
        indicators = {i["id"]: i for i in section.get("indicators", [])}
        for indicator in changed.get("indicators", []):
            indicators[indicator["id"]] = copy.deepcopy(indicator)
        section["indicators"] = list(indicators.values())
    for section in merged.get("sections", []):
        section["indicators"] = [i for i in section.get("indicators", []) if i["id"] not in removed]
    return merged


def parse_rubric(data: object, sha256: str = "") -> Rubric:
    """Validate a rubric read from its file; ValueError naming the bad entry."""
    if not isinstance(data, Mapping):
        raise ValueError("a rubric is a mapping with id, version, title, sections and grades")
    for key in ("id", "version", "title", "sections", "grades"):
        if key not in data:
            raise ValueError(f"{key}: missing")
    sections = tuple(_section(s, f"sections.{s.get('id', i)}") for i, s in enumerate(data["sections"]))
    ids = [i.id for s in sections for i in s.indicators]
    if len(set(ids)) != len(ids):
        raise ValueError("sections: indicator ids must be unique")
    grades = tuple(
        Grade(str(g["grade"]), str(g.get("grade_en", g["grade"])), float(g["from"])) for g in data["grades"]
    )
    if not grades or [g.start for g in grades] != sorted((g.start for g in grades), reverse=True):
        raise ValueError("grades: give them from the highest `from` down")
    if grades[-1].start > 0:
        raise ValueError("grades: the last one must start `from: 0`, so every total has a grade")
    return Rubric(str(data["id"]), int(data["version"]), str(data["title"]), sections, grades, sha256)


def _section(raw: Mapping[str, Any], where: str) -> Section:
    indicators = tuple(
        _indicator(i, str(raw["id"]), f"{where}.{i.get('id', k)}") for k, i in enumerate(raw["indicators"])
    )
    points = float(raw["points"])
    if abs(sum(i.max_points for i in indicators) - points) > 1e-9:
        raise ValueError(
            f"{where}.points: {points:g}, but its indicators give at most "
            f"{sum(i.max_points for i in indicators):g}"
        )
    return Section(str(raw["id"]), str(raw["name"]), points, indicators)


def _indicator(raw: Mapping[str, Any], section: str, where: str) -> Indicator:
    inputs = tuple((str(k), str(v)) for k, v in dict(raw["inputs"]).items())
    try:
        check_formula(str(raw["formula"]), [k for k, _ in inputs])
    except ValueError as exc:
        raise ValueError(f"{where}.formula: {exc}") from None
    scale = tuple((float(x), float(p)) for x, p in raw["scale"])
    if len(scale) < 2 or any(b[0] <= a[0] for a, b in itertools.pairwise(scale)):
        raise ValueError(f"{where}.scale: at least two [value, points] pairs, values increasing")
    return Indicator(str(raw["id"]), section, str(raw["name"]), inputs, str(raw["formula"]), scale)


# --- scoring ---------------------------------------------------------------------------------------


def score(rubric: Rubric, figure: Callable[[str], object]) -> Score:
    """The score of one platform's report; `figure(path)` reads a figure of the report by dotted path."""
    indicators: list[IndicatorScore] = []
    sections: list[SectionScore] = []
    for section in rubric.sections:
        subtotal = 0.0
        for indicator in section.indicators:
            inputs = {name: as_number(figure(path)) for name, path in indicator.inputs}
            try:
                value: float | None = half_up(evaluate(indicator.formula, inputs), 4)
            except Undefined:
                value = None
            points = 0.0 if value is None else half_up(points_on(indicator.scale, value), 2)
            subtotal += points
            indicators.append(
                IndicatorScore(
                    id=indicator.id,
                    section=section.id,
                    name=indicator.name,
                    inputs=inputs,
                    formula=indicator.formula,
                    value=value,
                    scale=[[x, p] for x, p in indicator.scale],
                    points=points,
                    max=indicator.max_points,
                )
            )
        sections.append(SectionScore(section.id, section.name, half_up(subtotal, 2), section.points))
    total = half_up(sum(s.points for s in sections), 2)
    grade = next(g for g in rubric.grades if total >= g.start)
    return Score(
        rubric={"id": rubric.id, "version": rubric.version, "title": rubric.title, "sha256": rubric.sha256},
        total=total,
        max=rubric.max_points,
        grade=grade.grade,
        grade_en=grade.grade_en,
        sections=sections,
        indicators=indicators,
    )
