"""The auditor's desk: the sharing-performance report of a platform and period (page, CSV, print), and the
audit log (chain status, verification on demand, the events with filters). Reconciliation of bookings
with measured use is in `reconciliation.py`.

Every page reads through the same use cases as the JSON API (`compliance.reports`, `audit`) and shows a
refusal (an SME, another operator's platform, a bad date) on the page instead of a raw error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from backend.domain.access import Principal, Role
from backend.domain.errors import DomainError, Invalid
from backend.http.deps import EngineDep, PageCaller, SessionDep, SettingsDep
from backend.i18n import pick
from backend.models.types import utcnow
from backend.services import audit
from backend.services.catalog import platforms, resources
from backend.services.compliance import reports
from backend.services.compliance.exports import to_csv
from backend.settings import Settings
from backend.web.common import form_errors, need_login, render
from backend.web.words import AUDIT_ACTIONS

router = APIRouter(include_in_schema=False)

DEFAULT_ZONE = "Asia/Shanghai"
EVENTS_PER_PAGE = 50
#: The actions the log records (docs/audit.md), offered in the filter.
ACTIONS = list(AUDIT_ACTIONS)  # the action filter's choices

Text = Annotated[str, Query(max_length=100)]


def parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(field, f"not a date (YYYY-MM-DD): {value!r}") from None


def visible_platforms(session: SessionDep, who: Principal) -> list[Any]:
    """The platforms the reader may choose: an operator's own, everyone else's all."""
    rows, _ = platforms.list_platforms(session, None, None, 0, 500)
    if who.role is Role.operator:
        rows = [p for p in rows if p.id == who.platform_id]
    return sorted(rows, key=lambda p: p.code)


@dataclass(frozen=True)
class Period:
    """The platform and period a page was asked for (`?platform=&from=&to=`), as typed."""

    platform: str | None
    first: str | None
    last: str | None


def period_params(
    platform: Text | None = None,
    first: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> Period:
    return Period(platform, first, last)


PeriodDep = Annotated[Period, Depends(period_params)]


def period_query(session: SessionDep, who: Principal, asked: Period) -> dict[str, Any]:
    """The page's platform and period, with defaults: the first visible platform, this year to today."""
    platform, first, last = asked.platform, asked.first, asked.last
    choices = visible_platforms(session, who)
    today = datetime.now(ZoneInfo(DEFAULT_ZONE)).date()
    code = platform or (choices[0].code if choices else "")
    return {
        "platform": code,
        "from": first or date(today.year, 1, 1).isoformat(),
        "to": last or today.isoformat(),
        "platforms": choices,
    }


def _report(engine: EngineDep, settings: Settings, who: Principal, query: dict[str, Any]) -> dict[str, Any]:
    """The API's report of the page's platform and period, scored by the deployment's rubric."""
    first, last = parse_day(query["from"], "from"), parse_day(query["to"], "to")
    code = query["platform"] or None
    return reports.sharing(engine, who, first, last, code, None, settings.score_rubric, settings.rubrics_dir)


@router.get("/audit/report")
def report_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    session: SessionDep,
    who: PageCaller,
    asked: PeriodDep,
) -> Response:
    """Every figure with its inputs and formula, the score and grade where the report has one, and the
    audit head the report was computed from; CSV and print."""
    caller = need_login(request, who)
    query = period_query(session, caller, asked)
    context: dict[str, Any] = {"query": query}
    try:
        found = _report(engine, settings, caller, query)
    except DomainError as exc:
        context |= {"report": None, "errors": form_errors(exc)}
        return render(request, who, "audit/report.html", context, status_code=refusal_status(exc))
    params = urlencode({k: query[k] for k in ("platform", "from", "to")})
    scores = {p["platform"]: score_view(p.get("score")) for p in found["platforms"]}
    context |= {"query": query, "report": found, "errors": {}, "params": params, "scores": scores}
    context["names"] = names_of(session, [p["platform"] for p in found["platforms"]])
    return render(request, who, "audit/report.html", context)


def names_of(session: Session, codes: list[str]) -> dict[str, str]:
    """The report names platforms and resources as stored (in Chinese); the page, in the reader's
    language: platform code -> name, `platform/resource` code -> name."""
    out: dict[str, str] = {}
    for code in codes:
        platform = platforms.platform_by_code(session, code)
        out[code] = pick(platform.name, platform.name_en)
        rows, _ = resources.search_resources(session, platform=code, limit=500)
        out |= {f"{code}/{r.code}": pick(r.name, r.name_en) for r in rows}
    return out


@router.get("/audit/report.csv")
def report_csv(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    session: SessionDep,
    who: PageCaller,
    asked: PeriodDep,
) -> Response:
    """The same report as `GET /api/v1/reports/sharing?format=csv`: one figure per row."""
    caller = need_login(request, who)
    query = period_query(session, caller, asked)
    found = _report(engine, settings, caller, query)
    name = f"sharing-{query['platform'] or 'all'}-{query['from']}-{query['to']}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(to_csv(found), media_type="text/csv; charset=utf-8", headers=headers)


def refusal_status(exc: DomainError) -> int:
    return 422 if isinstance(exc, Invalid) else 403


# --- the audit log ------------------------------------------------------------------------------


def _moment(value: str | None, field: str, zone: ZoneInfo, *, end: bool = False) -> datetime | None:
    """A day of the filter as the start of that day (`to`: of the next day) in `zone`."""
    if not value:
        return None
    day = parse_day(value, field) + (timedelta(days=1) if end else timedelta(0))
    return datetime.combine(day, time(), zone)


@router.get("/audit/log")
def log_page(
    request: Request,
    engine: EngineDep,
    session: SessionDep,
    who: PageCaller,
    subject: Text = "",
    action: Text = "",
    actor: Text = "",
    platform: Text = "",
    first: Annotated[str, Query(alias="from", max_length=20)] = "",
    last: Annotated[str, Query(alias="to", max_length=20)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    verify: bool = False,
) -> Response:
    """The chain's recorded head, its verification when asked ("verify now"), and the events in chain
    order with filters; an htmx request gets only the part it asked for."""
    caller = need_login(request, who)
    query = {"subject": subject, "action": action, "actor": actor, "platform": platform}
    query |= {"from": first, "to": last}
    choices = visible_platforms(session, caller)
    context: dict[str, Any] = {"query": query, "platforms": choices, "actions": ACTIONS, "errors": {}}
    context |= {"offset": offset, "per_page": EVENTS_PER_PAGE, "zone": DEFAULT_ZONE, "names": {}}
    context |= {"head_at": None}
    try:
        audit.ensure_may_read(caller)
        chosen = next((p for p in choices if p.code == platform), None)
        if platform and chosen is None:
            raise Invalid("platform", f"unknown platform code {platform!r}")
        zone = ZoneInfo(chosen.timezone if chosen else DEFAULT_ZONE)
        start, end = _moment(first, "from", zone), _moment(last, "to", zone, end=True)
        if start and end and end <= start:
            raise Invalid("to", "must not be before from")
        rows, count = audit.list_events(
            session,
            caller,
            subject=subject or None,
            action=action or None,
            actor=actor or None,
            start=start,
            end=end,
            platform_id=chosen.id if chosen else None,
            offset=offset,
            limit=EVENTS_PER_PAGE,
        )
    except DomainError as exc:
        context |= {"events": [], "count": 0, "errors": form_errors(exc), "head": None}
        return render(request, who, "audit/log.html", context, status_code=refusal_status(exc))
    head = audit.recorded_head(session.connection())
    verdict = audit.verify_chain(engine) if verify else None
    base = {k: v for k, v in query.items() if v}
    context |= {
        "events": [(e, audit.payload_of(e)) for e in rows],
        "count": count,
        "page_url": lambda at: "/audit/log?" + urlencode({**base, "offset": at}),
        "head": head,
        "head_at": audit.head_recorded_at(session, head),
        "verdict": verdict,
        "verified_at": utcnow() if verify else None,
        "zone": zone.key,
        "names": {p.id: p.code for p in choices},
    }
    return render(request, who, "audit/log.html", context, block="chain" if verify else "events")


def _bilingual(name: str) -> str:
    """A rubric's "中文 · English" name in the reader's language."""
    chinese, _, english = name.partition("·")
    return pick(chinese.strip(), english.strip() or None)


def score_view(score: Any) -> dict[str, Any] | None:
    """The report's `score` (total, grade, sections, per indicator its inputs, formula, value and points)
    in one shape for the page, names in the reader's language."""
    if not isinstance(score, dict):
        return None
    raw = score.get("indicators") or []
    items = [{"id": k, **v} for k, v in raw.items()] if isinstance(raw, dict) else list(raw)
    indicators = [
        {
            "id": i.get("id") or i.get("name") or "",
            "name": _bilingual(str(i.get("name") or i.get("id") or "")),
            "inputs": i.get("inputs") or {},
            "formula": i.get("formula") or "",
            "value": i.get("value"),
            "points": i.get("points"),
            "max": i.get("max", i.get("max_points")),
        }
        for i in items
        if isinstance(i, dict)
    ]
    sections = [
        {
            "name": _bilingual(str(x.get("name") or x.get("id") or "")),
            "points": x.get("points"),
            "max": x.get("max"),
        }
        for x in score.get("sections") or []
        if isinstance(x, dict)
    ]
    rubric = score.get("rubric")
    rubric = rubric if isinstance(rubric, dict) else {}
    return {
        "total": score.get("total"),
        "max": score.get("max"),
        "grade": pick(score.get("grade"), score.get("grade_en")),
        "rubric": {"title": _bilingual(str(rubric.get("title") or "")), "sha256": rubric.get("sha256") or ""},
        "sections": sections,
        "indicators": indicators,
    }
