"""The sharing report as JSON, CSV (one figure per row) or a plain printable HTML page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from backend.templating import make_environment


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"
    html = "html"


MEDIA_TYPES = {
    ReportFormat.json: "application/json",
    ReportFormat.csv: "text/csv; charset=utf-8",
    ReportFormat.html: "text/html; charset=utf-8",
}


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else key, item)
    else:
        yield prefix, value


def to_csv(report: dict[str, Any]) -> str:
    """Columns platform, resource, figure, value; `resource` is empty for platform-wide figures, and
    the report's own facts (period, audit fingerprint) have an empty platform."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["platform", "resource", "figure", "value"])
    for figure in ("report", "from", "to", "generated_at"):
        writer.writerow(["", "", figure, report[figure]])
    for figure, value in _flatten("audit", report["audit"]):
        writer.writerow(["", "", figure, "" if value is None else value])
    for platform in report["platforms"]:
        figures = {k: v for k, v in platform.items() if k not in ("resources", "score")}
        for figure, value in _flatten("", figures):
            writer.writerow([platform["platform"], "", figure, "" if value is None else value])
        for figure, value in _score_rows(platform["score"]):
            writer.writerow([platform["platform"], "", figure, "" if value is None else value])
        for resource in platform["resources"]:
            for figure, value in resource.items():
                if figure != "code":
                    writer.writerow(
                        [platform["platform"], resource["code"], figure, "" if value is None else value]
                    )
    return out.getvalue()


def _score_rows(score: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield from _flatten("score.rubric", score["rubric"])
    for key in ("total", "max", "grade", "grade_en"):
        yield f"score.{key}", score[key]
    for section in score["sections"]:
        yield f"score.{section['id']}.points", section["points"]
    for indicator in score["indicators"]:
        where = f"score.{indicator['section']}.{indicator['id']}"
        for name, value in indicator["inputs"].items():
            yield f"{where}.inputs.{name}", value
        yield f"{where}.formula", indicator["formula"]
        yield f"{where}.value", indicator["value"]
        yield f"{where}.points", indicator["points"]


def render(report: dict[str, Any], fmt: ReportFormat) -> str:
    if fmt is ReportFormat.csv:
        return to_csv(report)
    if fmt is ReportFormat.html:
        return make_environment().get_template("report_sharing.html").render(report=report)
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
