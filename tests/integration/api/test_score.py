"""The score of a real sharing report, recomputed from docs/reports.md alone.

Nothing here imports the scoring code: the indicators, their inputs, formulas, scales and the grade table
are parsed from the documentation's tables, computed the way its "How to recompute it by hand" says, and
compared with what the API answered.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.db import make_engine, unit_of_work
from backend.models.booking import Booking, BookingKind
from backend.models.platform import Platform
from backend.models.usage import UsageSession
from backend.settings import Settings
from tests.integration.api.conftest import Api, unique

pytestmark = pytest.mark.integration

V1 = "/api/v1"
DOC = Path(__file__).resolve().parents[3] / "docs" / "reports.md"
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass
class DocIndicator:
    section: str
    id: str
    inputs: dict[str, str]
    formula: str
    scale: list[tuple[float, float]]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def documented() -> tuple[list[DocIndicator], list[tuple[str, float]]]:
    text = DOC.read_text(encoding="utf-8").split("### The national default")[1]
    text = text.split("### Provincial variants")[0]
    indicators = []
    for section, indicator, inputs, formula, scale in _table(text, "| section | indicator |"):
        indicators.append(
            DocIndicator(
                section=section.split()[0],
                id=re.findall(r"`(\w+)`", indicator)[0],
                inputs=dict(re.findall(r"`(\w+)` = `([\w.]+)`", inputs)),
                formula=formula.strip("`"),
                scale=[(float(x), float(p)) for x, p in re.findall(r"([\d.]+) → ([\d.]+)", scale)],
            )
        )
    grades = [(grade, float(start)) for grade, _, start in _table(text, "| grade | grade_en | from |")]
    return indicators, grades


def half_up(value: float, places: int) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def recompute(platform: dict[str, Any], audit: dict[str, Any]) -> dict[str, Any]:
    indicators, grades = documented()
    figures = {**platform, "audit": audit}
    points: dict[str, float] = {}
    values: dict[str, float | None] = {}
    for ind in indicators:
        numbers: dict[str, float | None] = {}
        for name, path in ind.inputs.items():
            raw: Any = figures
            for part in path.split("."):
                raw = raw[part]
            numbers[name] = None if raw is None else float(Decimal(str(raw)) if isinstance(raw, str) else raw)
        try:
            if any(v is None for v in numbers.values()):
                raise ZeroDivisionError
            value = half_up(eval(ind.formula, {"__builtins__": {}, "min": min, "max": max}, numbers), 4)
        except ZeroDivisionError:
            values[ind.id], points[ind.id] = None, 0.0
            continue
        values[ind.id] = value
        scale = ind.scale
        if value <= scale[0][0]:
            got = scale[0][1]
        elif value >= scale[-1][0]:
            got = scale[-1][1]
        else:
            (x0, p0), (x1, p1) = next((a, b) for a, b in itertools.pairwise(scale) if value <= b[0])
            got = p0 + (p1 - p0) * (value - x0) / (x1 - x0)
        points[ind.id] = half_up(got, 2)
    sections: dict[str, float] = {}
    for ind in indicators:
        sections[ind.section] = sections.get(ind.section, 0.0) + points[ind.id]
    total = half_up(sum(half_up(v, 2) for v in sections.values()), 2)
    grade = next(g for g, start in grades if total >= start)
    return {"points": points, "values": values, "total": total, "grade": grade}


@pytest.fixture(scope="module")
def scored_period(api: Api, database_url: str) -> dict[str, str]:
    """Three days of a platform's life: measured use (own, external, unbooked), completed key-project
    and ordinary runs decided in and out of their SLA, one resource with an SME fee standard."""
    now = datetime.now(UTC).replace(microsecond=0)
    made = []
    for priced in (True, False):
        resource = api.admin(
            "POST",
            f"{V1}/resources",
            {
                "platform_id": api.ids["platform"],
                "code": unique("SC"),
                "kind": "instrument",
                "name": "评分测试",
                "requires_qualification": False,
            },
        )
        if priced:
            api.admin(
                "POST",
                f"{V1}/resources/{resource['id']}/rates",
                {"user_class": "external_sme", "unit": "hour", "price": "350", "valid_from": "2020-01-01"},
            )
        made.append(resource["id"])
    operator = api.call("operator", "GET", f"{V1}/me").json()["id"]
    sme = api.call("sme", "GET", f"{V1}/me").json()
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        platform = session.get(Platform, api.ids["platform"])
        assert platform is not None
        for k, (hours_ago, hours, org) in enumerate(
            [
                (50, 6, sme["organization_id"]),
                (30, 9, platform.owner_org_id),
                (20, 4, None),
                (10, 3, sme["organization_id"]),
            ]
        ):
            start = now - timedelta(hours=hours_ago)
            session.add(
                UsageSession(
                    resource_id=made[k % 2],
                    platform_id=api.ids["platform"],
                    started_at=start,
                    ended_at=start + timedelta(hours=hours),
                    last_seen_at=start + timedelta(hours=hours),
                    states=["running"],
                    organization_id=org,
                )
            )
        for k, (hours_ago, key_project, in_sla) in enumerate(
            [(48, True, True), (28, False, True), (12, False, False)]
        ):
            start = now - timedelta(hours=hours_ago)
            requested = start - timedelta(hours=30)
            session.add(
                Booking(
                    platform_id=api.ids["platform"],
                    resource_id=made[0],
                    kind=BookingKind.fixed,
                    status="completed",
                    organization_id=sme["organization_id"],
                    user_id=sme["id"],
                    user_class="key_project" if key_project else "external_sme",
                    key_project=key_project,
                    starts_at=start,
                    ends_at=start + timedelta(hours=2 + k),
                    requested_at=requested,
                    sla_due_at=requested + timedelta(hours=4 if key_project else 24),
                    decided_at=requested + timedelta(hours=2 if in_sla else 26),
                    decided_by_id=operator,
                    purpose="scored run",
                )
            )
    engine.dispose()
    today = now.astimezone(ZONE).date()
    return {
        "from": (today - timedelta(days=3)).isoformat(),
        "to": today.isoformat(),
        "as_of": now.isoformat(),
        "platform": "jinan-bio",
    }


def test_the_score_recomputed_from_the_documentation_alone_is_the_one_reported(
    api: Api, scored_period: dict[str, str]
) -> None:
    answer = api.client.get(f"{V1}/reports/sharing", params=scored_period, headers=api.as_("auditor"))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    [platform] = report["platforms"]
    score = platform["score"]
    mine = recompute(platform, report["audit"])
    reported = {i["id"]: i for i in score["indicators"]}
    assert set(reported) == set(mine["points"]), "the documentation lists other indicators than the code"
    for indicator, points in mine["points"].items():
        assert reported[indicator]["value"] == mine["values"][indicator], indicator
        assert reported[indicator]["points"] == points, indicator
    assert (score["total"], score["grade"]) == (mine["total"], mine["grade"])
    assert score["max"] == 100 and score["rubric"]["id"] == "national-2021"
    # The period has use, external use, key projects, income and decisions: most indicators score.
    assert sum(1 for p in mine["points"].values() if p > 0) >= 8, mine


def test_the_same_inputs_give_the_same_score_in_every_format(api: Api, scored_period: dict[str, str]) -> None:
    first = api.client.get(f"{V1}/reports/sharing", params=scored_period, headers=api.as_("auditor")).json()
    again = api.client.get(f"{V1}/reports/sharing", params=scored_period, headers=api.as_("admin")).json()
    assert first["platforms"][0]["score"] == again["platforms"][0]["score"]
    assert first["platforms"][0]["inputs_sha256"] == again["platforms"][0]["inputs_sha256"]
    total = first["platforms"][0]["score"]["total"]
    as_csv = api.client.get(
        f"{V1}/reports/sharing", params={**scored_period, "format": "csv"}, headers=api.as_("auditor")
    ).text
    assert f"jinan-bio,,score.total,{total}" in as_csv
    assert (
        "jinan-bio,,score.operation.effective_hours.formula,effective_hours / instruments * 365 / days"
        in as_csv
    )
    as_html = api.client.get(
        f"{V1}/reports/sharing", params={**scored_period, "format": "html"}, headers=api.as_("auditor")
    ).text
    assert f"Score: {total} / 100" in as_html and "effective_hours / instruments * 365 / days" in as_html


def test_an_unknown_rubric_is_named(api: Api, scored_period: dict[str, str]) -> None:
    answer = api.client.get(
        f"{V1}/reports/sharing",
        params={**scored_period, "rubric": "nowhere-1999"},
        headers=api.as_("auditor"),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("rubric: unknown rubric 'nowhere-1999'")
