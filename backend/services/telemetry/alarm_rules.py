"""Managing threshold alarm rules: a platform's operators (and administrators) write them, auditors read
them. A rule names a signal the devices report; ingest evaluates the enabled ones (`rule_watch`).
Removing or disabling a rule clears the alarms it holds open (by the system, with a note)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, delete, func, select

from backend.domain.access import Principal, can_see_tenant_row, ensure_manages_platform, ensure_not_sme
from backend.domain.alarms import AlarmState
from backend.domain.devices import declared_names
from backend.domain.errors import AccessDenied, Conflict, Invalid, NotFound
from backend.models.alarm_rule import AlarmRule, AlarmRuleCreate, AlarmRuleState, AlarmRuleUpdate
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.twin import Alarm, Twin
from backend.models.types import utcnow
from backend.services import audit
from backend.services.common import get_or_404
from backend.services.telemetry.alarms import clear_by_system, open_alarms_of_rule

#: fields a device reports that are not signals to compare
_NOT_SIGNALS = frozenset(
    {"state", "phase", "locked", "alarm", "device_type", "signals", "setpoints", "source"}
)


def _ensure_reads(session: Session, who: Principal, platform_id: int) -> Platform:
    platform = get_or_404(session, Platform, platform_id, "platform")
    ensure_not_sme(who, "alarm rules")
    if not can_see_tenant_row(who, platform_id, None):
        raise AccessDenied("only the platform's operators, auditors and administrators read its alarm rules")
    return platform


def list_rules(session: Session, who: Principal, platform_id: int) -> list[AlarmRule]:
    _ensure_reads(session, who, platform_id)
    return list(
        session.exec(
            select(AlarmRule).where(AlarmRule.platform_id == platform_id).order_by(col(AlarmRule.id))
        )
    )


def get_rule(session: Session, who: Principal, platform_id: int, rule_id: int) -> AlarmRule:
    _ensure_reads(session, who, platform_id)
    rule = session.get(AlarmRule, rule_id)
    if rule is None or rule.platform_id != platform_id:
        raise NotFound(f"alarm rule {rule_id} does not exist on platform {platform_id}")
    return rule


def known_signals(
    session: Session, platform_id: int, resource_id: int | None, device_type: str | None
) -> set[str]:
    """The numeric signals the rule's devices have declared or reported (empty: none reported yet)."""
    query = select(Twin).join(Resource, col(Resource.id) == Twin.resource_id)
    if resource_id is not None:
        query = query.where(Resource.id == resource_id)
    else:
        query = query.where(Resource.platform_id == platform_id, Resource.device_type == device_type)
    names: set[str] = set()
    for twin in session.exec(query):
        names |= set(_signals_of(twin.reported))
    return names


def signals_by_resource(session: Session, who: Principal, platform_id: int) -> dict[int, dict[str, str]]:
    """`{resource id: {signal: unit}}`: what each device of the platform has declared or reported, for
    choosing a rule's signal (a unit the device did not declare is empty)."""
    _ensure_reads(session, who, platform_id)
    query = (
        select(Twin.resource_id, Twin.reported)
        .join(Resource, col(Resource.id) == Twin.resource_id)
        .where(Resource.platform_id == platform_id)
    )
    return {resource_id: _signals_of(reported) for resource_id, reported in session.exec(query)}


def _signals_of(reported: Mapping[str, Any] | None) -> dict[str, str]:
    """A twin's numeric signals with their declared units: the birth message's `signals`, and every
    reading with a number."""
    reported = reported or {}
    declared = reported.get("signals")
    units = declared_names(declared.get("value") if isinstance(declared, dict) else None)
    for name, reading in reported.items():
        value = reading.get("value") if isinstance(reading, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            units.setdefault(name, "")
    return {name: unit for name, unit in units.items() if name not in _NOT_SIGNALS}


def open_alarm_counts(session: Session, who: Principal, platform_id: int) -> dict[int, int]:
    """`{rule id: alarms it holds open}` (active or acknowledged) for the platform's rules that hold any."""
    _ensure_reads(session, who, platform_id)
    query = (
        select(Alarm.rule_id, func.count())
        .join(AlarmRule, col(AlarmRule.id) == Alarm.rule_id)
        .where(AlarmRule.platform_id == platform_id, col(Alarm.state) != AlarmState.cleared)
        .group_by(col(Alarm.rule_id))
    )
    return {rule_id: count for rule_id, count in session.exec(query) if rule_id is not None}


def _check(session: Session, platform: Platform, data: AlarmRuleCreate) -> None:
    if data.resource_id is not None:
        resource = session.get(Resource, data.resource_id)
        if resource is None or resource.platform_id != platform.id:
            raise Invalid("resource_id", f"resource {data.resource_id} is not on platform {platform.code}")
    else:
        types = set(session.exec(select(Resource.device_type).where(Resource.platform_id == platform.id)))
        if data.device_type not in types:
            named = ", ".join(sorted(t for t in types if t)) or "none"
            raise Invalid(
                "device_type", f"no resource of {platform.code} is a {data.device_type!r}; known: {named}"
            )
    if data.signal in _NOT_SIGNALS:
        raise Invalid("signal", f"{data.signal!r} is not a numeric signal")
    known = known_signals(session, platform.id or 0, data.resource_id, data.device_type)
    if known and data.signal not in known:
        raise Invalid(
            "signal", f"the devices report no signal {data.signal!r}; they report {', '.join(sorted(known))}"
        )


def _unique_code(session: Session, platform_id: int, code: str, rule_id: int | None = None) -> None:
    same = session.exec(
        select(AlarmRule.id).where(AlarmRule.platform_id == platform_id, AlarmRule.code == code)
    ).first()
    if same is not None and same != rule_id:
        raise Conflict(f"code: alarm rule {same} of this platform has the code {code!r}")


def create_rule(
    session: Session, who: Principal | None, platform_id: int, data: AlarmRuleCreate
) -> AlarmRule:
    """`who` None: the system (the demo seed)."""
    platform = get_or_404(session, Platform, platform_id, "platform")
    if who is not None:
        ensure_manages_platform(who, platform_id)
    _check(session, platform, data)
    _unique_code(session, platform_id, data.code)
    fields = data.model_dump()
    fields["name"] = data.name or f"{data.signal} {data.comparison.value} {data.limit:g}"
    rule = AlarmRule(platform_id=platform_id, **fields)
    session.add(rule)
    session.flush()
    _audit(session, who, rule, "alarm_rule.create")
    return rule


def update_rule(
    session: Session, who: Principal, platform_id: int, rule_id: int, data: AlarmRuleUpdate
) -> AlarmRule:
    rule = get_rule(session, who, platform_id, rule_id)
    ensure_manages_platform(who, platform_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("comparison", "limit", "duration_seconds", "severity", "enabled", "signal", "name"):
        if name in changes and changes[name] is None:
            raise Invalid(name, "may not be null; leave it out to keep it")
    current = {name: getattr(rule, name) for name in AlarmRuleCreate.model_fields}
    try:
        merged = AlarmRuleCreate.model_validate({**current, **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        message = str(first["msg"]).removeprefix("Value error, ")
        if field == "body" and ": " in message:  # a check across fields blames one: "clear_limit: ..."
            field, message = message.split(": ", 1)
        raise Invalid(field, message) from None
    if "signal" in changes:
        _check(session, get_or_404(session, Platform, platform_id, "platform"), merged)
    rule.sqlmodel_update(changes)
    rule.updated_at = utcnow()
    session.add(rule)
    if not rule.enabled:
        _release(session, rule, "its rule was disabled")
    session.flush()
    _audit(session, who, rule, "alarm_rule.update", changes)
    return rule


def delete_rule(session: Session, who: Principal, platform_id: int, rule_id: int) -> None:
    rule = get_rule(session, who, platform_id, rule_id)
    ensure_manages_platform(who, platform_id)
    _release(session, rule, "its rule was removed")
    session.exec(delete(AlarmRuleState).where(col(AlarmRuleState.rule_id) == rule_id))
    _audit(session, who, rule, "alarm_rule.delete")
    session.delete(rule)
    session.flush()


def _release(session: Session, rule: AlarmRule, why: str) -> None:
    for alarm in open_alarms_of_rule(session, rule.id or 0):
        clear_by_system(session, alarm, rule.platform_id, utcnow(), why)
    session.exec(delete(AlarmRuleState).where(col(AlarmRuleState.rule_id) == rule.id))


def _audit(
    session: Session,
    who: Principal | None,
    rule: AlarmRule,
    action: str,
    changes: dict[str, Any] | None = None,
) -> None:
    shown = {k: (str(v) if isinstance(v, float) else v) for k, v in (changes or {}).items()}
    audit.append(
        session,
        action,
        ("alarm_rule", rule.id or 0),
        actor=who.user_id if who else None,
        platform_id=rule.platform_id,
        payload={
            "code": rule.code,
            "signal": rule.signal,
            "comparison": rule.comparison,
            "limit": repr(rule.limit),
            "duration_seconds": repr(rule.duration_seconds),
            "severity": rule.severity,
            "enabled": rule.enabled,
            "changes": shown,
        },
    )
