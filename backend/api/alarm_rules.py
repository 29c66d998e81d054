"""Threshold alarm rules of a platform: its operators and administrators write them, auditors read them;
ingest evaluates them (docs/ingest.md, "Alarm rules")."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.http.deps import Caller, SessionDep, Writer
from backend.models.alarm_rule import AlarmRule, AlarmRuleCreate, AlarmRulePublic, AlarmRuleUpdate
from backend.models.common import Id, Page
from backend.services.telemetry import alarm_rules as service

router = APIRouter(prefix="/platforms/{platform_id}/alarm-rules", tags=["alarms"])


def _public(rule: AlarmRule) -> AlarmRulePublic:
    return AlarmRulePublic.model_validate(rule, from_attributes=True)


@router.get("", response_model=Page[AlarmRulePublic])
def list_alarm_rules(session: SessionDep, who: Caller, platform_id: Id) -> Page[AlarmRulePublic]:
    """The platform's rules, enabled or not (its operators, auditors, administrators)."""
    rows = service.list_rules(session, who, platform_id)
    return Page(data=[_public(r) for r in rows], count=len(rows))


@router.post("", response_model=AlarmRulePublic, status_code=status.HTTP_201_CREATED)
def create_alarm_rule(write: Writer, who: Caller, platform_id: Id, data: AlarmRuleCreate) -> AlarmRulePublic:
    """A rule on one resource (`resource_id`) or on every resource of a `device_type` of the platform:
    an alarm is raised when `signal` `comparison` `limit` holds for `duration_seconds`, and cleared by the
    system when the signal is back past `clear_limit` (or `limit`). A signal the devices have not
    declared or reported is a 422 naming `signal`; a code the platform uses already is a 409."""
    with write() as session:
        return _public(service.create_rule(session, who, platform_id, data))


@router.get("/{rule_id}", response_model=AlarmRulePublic)
def get_alarm_rule(session: SessionDep, who: Caller, platform_id: Id, rule_id: Id) -> AlarmRulePublic:
    return _public(service.get_rule(session, who, platform_id, rule_id))


@router.patch("/{rule_id}", response_model=AlarmRulePublic)
def update_alarm_rule(
    write: Writer, who: Caller, platform_id: Id, rule_id: Id, data: AlarmRuleUpdate
) -> AlarmRulePublic:
    """Change a rule (checked again as a whole). Disabling it clears the alarms it holds open."""
    with write() as session:
        return _public(service.update_rule(session, who, platform_id, rule_id, data))


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_alarm_rule(write: Writer, who: Caller, platform_id: Id, rule_id: Id) -> None:
    """Remove a rule; the alarms it holds open are cleared by the system, its past alarms stay."""
    with write() as session:
        service.delete_rule(session, who, platform_id, rule_id)
