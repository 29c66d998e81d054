"""What ingest does with each batch beside twins and usage: it judges the enabled threshold rules on the
batch's samples (per resource, in device time) and notices resources going to and leaving `fault`.

It runs inside the batch's transaction, after the twins were merged: the twin rows of the batch's
resources are locked then (SQLite: the write lock), so two workers never judge one resource at once
and each rule's standing on a resource (`alarm_rule_state`) moves in one line. A sample at or before
the newest device time already judged for a rule (a late message another worker handled after newer
ones) is not judged again. Whatever happens, the database keeps one open alarm per resource and rule
(`uq_alarm_open`) and one open fault episode per resource (`uq_resource_fault_open`).

Rules are read through `RuleBook`, a cache refreshed every few seconds, so the batch asks the database
nothing about rules.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from backend.db import unit_of_work
from backend.domain.alarm_rules import (
    Comparison,
    Open,
    Rule,
    Sample,
    Severity,
    Standing,
    Verdict,
    judge_samples,
)
from backend.domain.telemetry_checks import ns_to_datetime
from backend.models.alarm_rule import AlarmRule, AlarmRuleState, ResourceFault
from backend.models.resource import Resource
from backend.models.twin import Alarm, Twin
from backend.models.types import as_utc
from backend.services.telemetry.alarms import clear_by_system, raise_for_rule

__all__ = ["REFRESH_SECONDS", "Outcome", "Rule", "RuleBook", "Sample", "evaluate"]

#: how often ingest reads the rules again: a rule added through the API is evaluated within this
REFRESH_SECONDS = 10.0
FAULT = "fault"
_TIME = itemgetter(0)  # a sample's device time


@dataclass(frozen=True)
class _Scoped:
    platform_id: int
    resource_id: int | None
    device_type: str | None
    rule: Rule


class RuleBook:
    """The enabled rules that apply to each resource, cached for `refresh_seconds`."""

    def __init__(self, engine: Engine, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._rules: list[_Scoped] = []
        self._resources: dict[int, tuple[int, str | None]] = {}  # id -> (platform, device type)
        self._read_at = -math.inf

    def for_resources(self, resource_ids: Iterable[int]) -> dict[int, list[Rule]]:
        wanted = set(resource_ids)
        stale = time.monotonic() - self._read_at >= self.refresh_seconds
        unknown = wanted - self._resources.keys()
        if stale or unknown:
            with unit_of_work(self.engine) as session:
                if stale:
                    self._rules = _enabled_rules(session)
                    self._read_at = time.monotonic()
                if unknown:
                    rows = session.exec(
                        select(Resource.id, Resource.platform_id, Resource.device_type).where(
                            col(Resource.id).in_(unknown)
                        )
                    )
                    self._resources.update({rid: (pid, dtype) for rid, pid, dtype in rows if rid is not None})
        out: dict[int, list[Rule]] = {}
        for rid in wanted:
            platform_id, device_type = self._resources.get(rid, (None, None))
            applies = [
                s.rule
                for s in self._rules
                if s.resource_id == rid
                or (s.resource_id is None and s.platform_id == platform_id and s.device_type == device_type)
            ]
            if applies:
                out[rid] = applies
        return out


def _enabled_rules(session: Session) -> list[_Scoped]:
    rows = session.exec(select(AlarmRule).where(col(AlarmRule.enabled).is_(True)).order_by(col(AlarmRule.id)))
    return [
        _Scoped(
            r.platform_id,
            r.resource_id,
            r.device_type,
            Rule(
                id=r.id or 0,
                code=r.code,
                signal=r.signal,
                comparison=Comparison(r.comparison),
                limit=r.limit,
                clear_limit=r.clear_limit,
                duration_seconds=r.duration_seconds,
                severity=Severity(r.severity),
            ),
        )
        for r in rows
    ]


@dataclass
class Outcome:
    raised: int = 0
    cleared: int = 0
    faults: list[int] = field(default_factory=list)  # fault episodes opened by this batch


def evaluate(
    session: Session, rules: Mapping[int, list[Rule]], samples: Mapping[int, list[Sample]]
) -> Outcome:
    """Judge the batch's samples; call it after `twins.apply_changes` in the batch's transaction.
    Five queries a batch whatever its size (resources with rules, their rule states and the alarms
    these hold, open fault episodes, the twins' states), more only when something is raised, cleared
    or opened."""
    outcome = Outcome()
    ids = sorted(samples)
    judged = [rid for rid in ids if rules.get(rid)]
    resources: dict[int, Resource] = {}
    states: dict[tuple[int, int], AlarmRuleState] = {}
    held: dict[int, Alarm] = {}
    if judged:
        resources = {r.id or 0: r for r in session.exec(select(Resource).where(col(Resource.id).in_(judged)))}
        in_batch = select(AlarmRuleState).where(col(AlarmRuleState.resource_id).in_(judged))
        states = {(s.resource_id, s.rule_id): s for s in session.exec(in_batch)}
        alarm_ids = [s.alarm_id for s in states.values() if s.alarm_id is not None]
        if alarm_ids:
            held = {a.id or 0: a for a in session.exec(select(Alarm).where(col(Alarm.id).in_(alarm_ids)))}
    open_faults = {
        f.resource_id: f
        for f in session.exec(select(ResourceFault).where(col(ResourceFault.open_resource_id).in_(ids)))
    }
    # the batch's twins in one query (they are locked and loaded already): a `session.get` per resource
    # took 1.4 ms each, a fifth of a worker's batch (docs/performance.md)
    twin_states = {
        twin.resource_id: (twin.reported or {}).get("state")
        for twin in session.exec(select(Twin).where(col(Twin.resource_id).in_(ids)))
    }
    for resource_id in ids:
        ordered = sorted(samples[resource_id], key=_TIME)
        resource = resources.get(resource_id)
        if resource is not None:
            for rule in rules[resource_id]:
                fresh = AlarmRuleState(resource_id=resource_id, rule_id=rule.id)
                state = states.get((resource_id, rule.id), fresh)
                alarm = held.get(state.alarm_id) if state.alarm_id is not None else None
                _judge_rule(session, resource, rule, state, alarm, ordered, outcome)
        newest = _newest_state(twin_states.get(resource_id), ordered)
        _watch_fault(session, resource_id, open_faults.get(resource_id), newest, ordered, outcome)
    return outcome


def _judge_rule(
    session: Session,
    resource: Resource,
    rule: Rule,
    state: AlarmRuleState,
    alarm: Alarm | None,
    ordered: Sequence[Sample],
    outcome: Outcome,
) -> None:
    held = Open.none if alarm is None else (Open.alarm if alarm.open_key else Open.latched)
    standing = Standing(state.breach_since, held)
    newest, verdicts = judge_samples(rule, standing, ordered, state.last_ns)
    if newest == state.last_ns:
        return  # nothing for this rule in the batch: its row stays as it is
    state.last_ns = newest
    for verdict, at, value in verdicts:
        if verdict is Verdict.raise_:
            alarm = raise_for_rule(session, resource, rule, at, value)
            state.alarm_id = alarm.id
            outcome.raised += 1
        elif verdict is Verdict.clear and alarm is not None:
            note = f"cleared by the system: {rule.signal} back at {value:g}"
            clear_by_system(session, alarm, resource.platform_id, at, note)
            state.alarm_id, alarm = None, None
            outcome.cleared += 1
        elif verdict is Verdict.unlatch:
            state.alarm_id, alarm = None, None
    state.breach_since = standing.breach_since
    session.add(state)


def _newest_state(reading: object, ordered: Sequence[Sample]) -> tuple[int, str] | None:
    """The newest state reading: the twin's (`reading`, which holds this batch's telemetry) or a state
    event's; of samples at the same time, the first in `ordered` (oldest first)."""
    newest: tuple[int, str] | None = None
    if isinstance(reading, dict) and isinstance(reading.get("value"), str):
        newest = (int(reading.get("ns", 0)), reading["value"])
    found: tuple[int, str] | None = None
    for ts_ns, fields in reversed(ordered):  # from the newest: usually the last sample carries a state
        if found is not None and ts_ns < found[0]:
            break
        state = fields.get("state")
        if isinstance(state, str):
            found = (ts_ns, state)
    if found is not None and (newest is None or found[0] > newest[0]):
        return found
    return newest


def _watch_fault(
    session: Session,
    resource_id: int,
    episode: ResourceFault | None,
    newest: tuple[int, str] | None,
    ordered: Sequence[Sample],
    outcome: Outcome,
) -> None:
    if newest is None:
        return
    ns, state = newest
    if state == FAULT and episode is None:
        started = ns_to_datetime(_fault_start(ordered, ns))
        ended = session.exec(
            select(func.max(ResourceFault.ended_at)).where(ResourceFault.resource_id == resource_id)
        ).one()
        if ended is not None and as_utc(ended) >= started:
            return  # a late reading of an episode that is over
        episode = ResourceFault(resource_id=resource_id, started_at=started, open_resource_id=resource_id)
        session.add(episode)
        session.flush()
        outcome.faults.append(episode.id or 0)
    elif state != FAULT and episode is not None and ns_to_datetime(ns) > episode.started_at:
        episode.ended_at, episode.open_resource_id = ns_to_datetime(ns), None
        session.add(episode)


def _fault_start(ordered: Sequence[Sample], newest_ns: int) -> int:
    """The first reading of the batch's last run of `fault` readings (the newest when none is here)."""
    start = newest_ns
    for ts_ns, fields in reversed(ordered):
        state = fields.get("state")
        if not isinstance(state, str) or ts_ns > newest_ns:
            continue
        if state != FAULT:
            break
        start = ts_ns
    return start
