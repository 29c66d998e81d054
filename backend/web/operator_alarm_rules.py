"""Threshold alarm rules of a platform: the list (each rule in words, with the alarms it holds open), a
form to add one and a page to change one, enable or disable it, and a delete that asks first. The
platform's operators and administrators write, auditors read, SMEs are refused; the use cases are the
JSON API's (`backend.services.telemetry.alarm_rules`). Forms post and are answered by a redirect back
(with a notice) or by the page again, the refusal next to its field and everything typed kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from backend.domain.access import Principal, Role, can_manage_platform
from backend.domain.alarm_rules import Comparison, Severity
from backend.domain.errors import DomainError, Invalid
from backend.http.deps import PageCaller, SessionDep, Writer
from backend.i18n import N_, gettext, number, pick
from backend.models.alarm_rule import MAX_DURATION_SECONDS, AlarmRule, AlarmRuleCreate, AlarmRuleUpdate
from backend.models.common import MAX_MAGNITUDE
from backend.models.platform import Platform
from backend.models.resource import Resource, ResourceKind, ResourceStatus
from backend.services.catalog import platforms, resources
from backend.services.telemetry import alarm_rules as service
from backend.web.common import need_login, render, validation_errors
from backend.web.operator import check_csrf, chosen_platform, refusal
from backend.web.signals import KEY_SIGNALS, device_type_name, signal_name

router = APIRouter(include_in_schema=False)

PAGE = "/operator/alarm-rules"

#: the comparison of a rule, and the one its alarm clears on (the value back past the clear bound)
COMPARISONS = {
    Comparison.gt: (N_("above"), N_("at or below")),
    Comparison.ge: (N_("at or above"), N_("below")),
    Comparison.lt: (N_("below"), N_("at or above")),
    Comparison.le: (N_("at or below"), N_("above")),
}
#: what the form calls the model's fields, where the form names them differently
FORM_FIELDS = {"resource_id": "scope", "device_type": "scope", "duration_seconds": "duration"}


def figure(value: float) -> str:
    """A limit as people write it: 40, 6.5, -0.25 (no exponent, no trailing zeros)."""
    text = f"{value:.12g}"
    return f"{value:.12f}".rstrip("0").rstrip(".") if "e" in text else text


@dataclass(frozen=True)
class Scope:
    """What a rule watches: one resource, or every resource of a device type; `key` is the form's value."""

    key: str
    label: str


@dataclass(frozen=True)
class RuleView:
    """One rule as the list and the forms show it, in the reader's language."""

    rule: AlarmRule
    applies_to: str
    signal: str
    unit: str
    when: str
    clears: str
    duration: str
    open_alarms: int

    @property
    def id(self) -> int:
        return self.rule.id or 0

    @property
    def raised(self) -> str:
        """The condition in words: "Temperature above 40 °C"."""
        return " ".join(part for part in (self.signal, self.when, self.unit) if part)

    @property
    def sentence(self) -> str:
        """With how long it must hold: "Temperature above 40 °C, for 30 s"."""
        return gettext("%(raised)s, %(duration)s") % {"raised": self.raised, "duration": self.duration}

    @property
    def form(self) -> dict[str, str]:
        """The rule as its form shows it before anything is typed."""
        rule = self.rule
        return {
            "name": rule.name,
            "signal": rule.signal,
            "comparison": Comparison(rule.comparison).name,
            "limit": figure(rule.limit),
            "clear_limit": "" if rule.clear_limit is None else figure(rule.clear_limit),
            "duration": figure(rule.duration_seconds),
            "severity": rule.severity,
            "enabled": "true" if rule.enabled else "",
        }


def _duration(seconds: float) -> str:
    if seconds <= 0:
        return gettext("at once")
    if seconds % 3600 == 0:
        return gettext("for %(n)s h") % {"n": figure(seconds / 3600)}
    if seconds % 60 == 0:
        return gettext("for %(n)s min") % {"n": figure(seconds / 60)}
    return gettext("for %(n)s s") % {"n": figure(seconds)}


@dataclass
class PlatformFacts:
    """The page's facts about one platform: its resources, their device types and what they report."""

    platform: Platform
    resources: list[Resource]
    signals: dict[int, dict[str, str]]

    @property
    def every(self) -> list[Scope]:
        """A rule on every resource of a device type."""
        types = sorted({r.device_type for r in self.resources if r.device_type})
        return [Scope(f"type:{t}", gettext("every %(type)s") % {"type": device_type_name(t)}) for t in types]

    @property
    def one(self) -> list[Scope]:
        """A rule on one resource: an instrument in service, or anything whose device reports."""
        watched = [
            r
            for r in self.resources
            if r.status != ResourceStatus.retired
            and (r.kind == ResourceKind.instrument or r.id in self.signals)
        ]
        return [Scope(f"resource:{r.id}", f"{pick(r.name, r.name_en)} · {r.code}") for r in watched]

    def applies_to(self, rule: AlarmRule) -> str:
        if rule.device_type is not None:
            return gettext("every %(type)s") % {"type": device_type_name(rule.device_type)}
        found = next((r for r in self.resources if r.id == rule.resource_id), None)
        return f"{pick(found.name, found.name_en)} · {found.code}" if found else str(rule.resource_id)

    def signals_of(self, scope: str) -> dict[str, str]:
        """{signal: unit} the devices of a scope report; for a type, what any of them reports, else
        the console's key signals of that type."""
        kind, _, value = scope.partition(":")
        if kind == "resource" and value.isdigit():
            return self.signals.get(int(value), {})
        found: dict[str, str] = {}
        for r in self.resources:
            if r.device_type == value and r.id is not None:
                found.update(self.signals.get(r.id, {}))
        return found or {name: unit for name, _, unit in KEY_SIGNALS.get(value, ())}

    def view(self, rule: AlarmRule, open_alarms: int) -> RuleView:
        label, unit = signal_name(rule.signal)
        unit = _unit(label, unit or self.unit_of(rule))
        comparison = Comparison(rule.comparison)
        raises, clears = COMPARISONS[comparison]
        clear_at = rule.limit if rule.clear_limit is None else rule.clear_limit
        return RuleView(
            rule=rule,
            applies_to=self.applies_to(rule),
            signal=label,
            unit=unit,
            when=f"{gettext(raises)} {figure(rule.limit)}",
            clears=f"{gettext(clears)} {figure(clear_at)}",
            duration=_duration(rule.duration_seconds),
            open_alarms=open_alarms,
        )

    def unit_of(self, rule: AlarmRule) -> str:
        return self.signals_of(scope_of(rule)).get(rule.signal, "")


def scope_of(rule: AlarmRule) -> str:
    """The form's value for what a rule watches."""
    return f"resource:{rule.resource_id}" if rule.resource_id is not None else f"type:{rule.device_type}"


def _facts(session: Session, who: Principal, platform: Platform) -> PlatformFacts:
    rows, _ = resources.search_resources(session, platform=platform.code, limit=1000)
    return PlatformFacts(platform, rows, service.signals_by_resource(session, who, platform.id or 0))


def signal_choices(facts: PlatformFacts, scope: str, kept: str = "") -> list[tuple[str, str]]:
    """(value, words) of the signals a rule on `scope` may watch; what was typed stays a choice."""
    choices = []
    for name, declared in facts.signals_of(scope).items():
        label, unit = signal_name(name)
        unit = _unit(label, unit or declared)
        choices.append((name, f"{label} ({unit})" if unit else label))
    choices.sort(key=lambda choice: choice[1].lower())
    if kept and kept not in {value for value, _ in choices}:
        choices.append((kept, signal_name(kept)[0]))
    return choices


def _unit(label: str, unit: str) -> str:
    """The unit, unless the name says it already (pH, Biomass (OD600))."""
    return "" if unit in label else unit


def _context(
    session: Session, who: Principal, platform: Platform, facts: PlatformFacts | None = None
) -> dict[str, Any]:
    facts = facts or _facts(session, who, platform)
    rules = service.list_rules(session, who, platform.id or 0)
    counts = service.open_alarm_counts(session, who, platform.id or 0)
    others: list[Platform] = []
    if who.role in (Role.admin, Role.auditor):
        others, _ = platforms.list_platforms(session, None, None, 0, 100)
    return {
        "platform": platform,
        "platforms": others,
        "rules": [facts.view(r, counts.get(r.id or 0, 0)) for r in rules],
        "writes": can_manage_platform(who, platform.id or 0) and who.role is not Role.auditor,
        "comparisons": [(c.name, gettext(COMPARISONS[c][0])) for c in Comparison],
        "severities": [s.value for s in Severity],
        "facts": facts,
        "for_platform": "" if who.role is Role.operator else "?" + urlencode({"platform": platform.code}),
        "errors": {},
        "form": {},
        "notice": None,
        **_create_form(facts, {}, {}),
    }


def _create_form(facts: PlatformFacts, typed: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The "new rule" form: what was typed (else the defaults), its refusals, and the signal choices of
    the scope chosen (its first one unless chosen)."""
    scopes = [s.key for s in facts.every + facts.one]
    values = {"enabled": "true", "duration": "0", "severity": "warning", **typed}
    values["scope"] = values.get("scope") or (scopes[0] if scopes else "")
    choices = signal_choices(facts, values["scope"], values.get("signal", ""))
    return {"create_values": values, "create_errors": errors, "create_signals": choices}


def _target(platform: Platform, who: Principal, **query: str) -> str:
    """The list's address, with the platform for an administrator or auditor (operators have one)."""
    params = {"platform": platform.code} if who.role is not Role.operator else {}
    return f"{PAGE}?{urlencode({**params, **query})}"


# --- the pages ------------------------------------------------------------------------------------


@router.get(PAGE)
def rules_page(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    notice: Annotated[str | None, Query(max_length=20)] = None,
    scope: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    """The rules and the form to add one. `scope` alone (htmx, when the form's "applies to" changes)
    answers with the signal field for it."""
    caller = need_login(request, who)
    chosen = chosen_platform(session, caller, platform)
    context = _context(session, caller, chosen)
    if scope is not None:
        context.update(_create_form(context["facts"], {"scope": scope}, {}))
    fragment = "signal_field" if scope is not None else None
    return render(request, who, "operator/alarm_rules.html", {**context, "notice": notice}, block=fragment)


@router.get(PAGE + "/{rule_id}")
def rule_page(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    rule_id: int,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    caller = need_login(request, who)
    context = _rule_context(session, caller, chosen_platform(session, caller, platform), rule_id)
    return render(request, who, "operator/alarm_rule.html", {**context, "notice": notice})


def _rule_context(
    session: Session, who: Principal, platform: Platform, rule_id: int, typed_signal: str = ""
) -> dict[str, Any]:
    rule = service.get_rule(session, who, platform.id or 0, rule_id)
    facts = _facts(session, who, platform)
    context = _context(session, who, platform, facts)
    context["view"] = next(v for v in context["rules"] if v.id == rule.id)
    context["signal_choices"] = signal_choices(facts, scope_of(rule), typed_signal or rule.signal)
    return context


@router.get(PAGE + "/{rule_id}/delete")
def confirm_delete(
    request: Request,
    session: SessionDep,
    who: PageCaller,
    rule_id: int,
    platform: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Deleting asks first, and says what becomes of the alarms the rule holds."""
    caller = need_login(request, who)
    context = _rule_context(session, caller, chosen_platform(session, caller, platform), rule_id)
    return render(request, who, "operator/alarm_rule_delete.html", context)


# --- changing rules -------------------------------------------------------------------------------


def _act(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    platform: str | None,
    csrf_token: str | None,
    again: tuple[int | None, str, dict[str, str]],
    change: Callable[[Session, Principal, Platform], AlarmRule | None],
    notice: str,
) -> Response:
    """Check the token, make one change in one transaction, then back to the list with `notice`; or the
    page again (`again`: the rule's id or None for the list, the form's name, what was typed) with the
    refusal next to its field."""
    caller = need_login(request, who)
    chosen = chosen_platform(session, caller, platform)
    try:
        check_csrf(request, csrf_token)
        with write() as tx:
            made = change(tx, caller, chosen)
            anchor = f"#rule-{made.id}" if made is not None else ""
    except DomainError as exc:
        return _form_again(request, who, session, caller, chosen, again, refusal(exc))
    except ValidationError as exc:
        return _form_again(request, who, session, caller, chosen, again, _refusals(exc))
    return RedirectResponse(_target(chosen, caller, notice=notice) + anchor, status_code=303)


#: the model's refusals the form says in its own words, by pydantic's error type
PLAINER = {
    "string_pattern_mismatch": N_("use letters, digits, '-', '.' and '_', beginning with a letter or digit"),
    "float_parsing": N_("give a number, such as 40, 6.5 or -20"),
}
#: a number out of its range (infinite, too large or too small), by field
OUT_OF_RANGE = {
    "limit": N_("give a number between -%(most)s and %(most)s"),
    "clear_limit": N_("give a number between -%(most)s and %(most)s"),
    "duration_seconds": N_("give the seconds, from 0 to %(week)s (a week)"),
}
_RANGE_ERRORS = {"finite_number", "less_than_equal", "greater_than_equal"}


def _refusals(exc: ValidationError) -> dict[str, str]:
    """The model's refusals by field, in the form's words where it has them (a code's pattern is no
    regular expression to the reader, and 1e309 is a number too large, not an infinite one)."""
    errors = validation_errors(exc)
    figures = {"most": number(MAX_MAGNITUDE, 0), "week": number(MAX_DURATION_SECONDS, 0)}
    for error in exc.errors():
        field = str(error["loc"][0]) if len(error["loc"]) == 1 else ""
        if error["type"] in PLAINER:
            errors[field] = gettext(PLAINER[error["type"]])
        elif error["type"] in _RANGE_ERRORS and field in OUT_OF_RANGE:
            errors[field] = gettext(OUT_OF_RANGE[field]) % figures
    errors.pop("", None)
    return errors


def _form_again(
    request: Request,
    who: PageCaller,
    session: Session,
    caller: Principal,
    platform: Platform,
    again: tuple[int | None, str, dict[str, str]],
    errors: dict[str, str],
) -> Response:
    rule_id, form_name, typed = again
    session.rollback()
    shown = {FORM_FIELDS.get(field, field): message for field, message in errors.items()}
    if rule_id is None:
        context, template = _context(session, caller, platform), "operator/alarm_rules.html"
    else:
        context = _rule_context(session, caller, platform, rule_id, typed.get("signal", ""))
        template = "operator/alarm_rule.html"
    context.update({"errors": {form_name: shown}, "form": {form_name: typed}})
    if form_name == "create":
        context.update(_create_form(context["facts"], typed, shown))
    return render(request, who, template, context, status_code=422)


def _name(typed: str, signal: str, comparison: str, limit: str) -> str:
    """The name typed, else the condition in the reader's words ("pH below 6.5")."""
    if typed.strip():
        return typed.strip()
    words = COMPARISONS[Comparison[comparison]][0] if comparison in Comparison.__members__ else comparison
    return f"{signal_name(signal)[0]} {gettext(words)} {limit.strip()}"


def _comparison(name: str) -> str:
    """The form's comparison (`gt`) as the model's (`>`); anything else as it came, for the model to
    refuse by name."""
    return Comparison[name].value if name in Comparison.__members__ else name


def _values(form: dict[str, str]) -> dict[str, Any]:
    """The fields both forms share, as the models read them (numbers stay text: the model judges them
    and names the field it refuses)."""
    return {
        "name": _name(form["name"], form["signal"], form["comparison"], form["limit"]),
        "signal": form["signal"].strip(),
        "comparison": _comparison(form["comparison"]),
        "limit": form["limit"].strip(),
        "clear_limit": form["clear_limit"].strip() or None,
        "duration_seconds": form["duration"].strip() or "0",
        "severity": form["severity"],
        "enabled": form.get("enabled") == "true",
    }


FormText = Annotated[str, Form(max_length=200)]


@router.post(PAGE)
def create(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    scope: Annotated[str, Form(max_length=80)] = "",
    code: FormText = "",
    name: FormText = "",
    signal: FormText = "",
    comparison: FormText = "gt",
    limit: FormText = "",
    clear_limit: FormText = "",
    duration: FormText = "0",
    severity: FormText = "warning",
    enabled: FormText = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    form = {
        "scope": scope,
        "code": code,
        "name": name,
        "signal": signal,
        "comparison": comparison,
        "limit": limit,
        "clear_limit": clear_limit,
        "duration": duration,
        "severity": severity,
        "enabled": enabled,
    }

    def change(tx: Session, caller: Principal, chosen: Platform) -> AlarmRule:
        kind, _, value = scope.partition(":")
        if kind == "resource" and value.isdigit():
            applies: dict[str, Any] = {"resource_id": int(value)}
        elif kind == "type" and value:
            applies = {"device_type": value}
        else:
            raise Invalid("scope", "choose the resource or the kind of instrument the rule watches")
        data = AlarmRuleCreate.model_validate({**applies, "code": code.strip(), **_values(form)})
        return service.create_rule(tx, caller, chosen.id or 0, data)

    return _act(request, session, write, who, platform, csrf_token, (None, "create", form), change, "created")


@router.post(PAGE + "/{rule_id}")
def update(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    rule_id: int,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    name: FormText = "",
    signal: FormText = "",
    comparison: FormText = "gt",
    limit: FormText = "",
    clear_limit: FormText = "",
    duration: FormText = "0",
    severity: FormText = "warning",
    enabled: FormText = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    form = {
        "name": name,
        "signal": signal,
        "comparison": comparison,
        "limit": limit,
        "clear_limit": clear_limit,
        "duration": duration,
        "severity": severity,
        "enabled": enabled,
    }

    def change(tx: Session, caller: Principal, chosen: Platform) -> AlarmRule:
        data = AlarmRuleUpdate.model_validate(_values(form))
        return service.update_rule(tx, caller, chosen.id or 0, rule_id, data)

    return _act(request, session, write, who, platform, csrf_token, (rule_id, "edit", form), change, "saved")


@router.post(PAGE + "/{rule_id}/enabled")
def switch(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    rule_id: int,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    enabled: FormText = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Enable or disable a rule from the list; disabling clears the alarms it holds open."""
    on = enabled == "true"

    def change(tx: Session, caller: Principal, chosen: Platform) -> AlarmRule:
        return service.update_rule(tx, caller, chosen.id or 0, rule_id, AlarmRuleUpdate(enabled=on))

    notice = "enabled" if on else "disabled"
    return _act(request, session, write, who, platform, csrf_token, (None, "list", {}), change, notice)


@router.post(PAGE + "/{rule_id}/delete")
def delete(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    rule_id: int,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    def change(tx: Session, caller: Principal, chosen: Platform) -> None:
        service.delete_rule(tx, caller, chosen.id or 0, rule_id)

    return _act(request, session, write, who, platform, csrf_token, (None, "list", {}), change, "deleted")
