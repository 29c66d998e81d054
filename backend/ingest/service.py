"""The ingest process: MQTT messages in, InfluxDB points and twin/alarm/usage-session rows out.

Threads: paho's network loop only puts messages on a bounded queue (`on_message`); the worker thread
takes them in batches and decodes and checks each (`backend.ingest.decode`, the contract of
`edge_agent.protocol`); the store thread merges twin changes (the newest value per field of each
message), alarms and usage sessions (from the samples' `state` field and the Last Will;
`backend.services.telemetry.usage`) into the SQL database in one transaction per batch, then hands the
batch's telemetry lines to the `InfluxWriter`, while the worker decodes the next batch (two workers of
a group wait for each other's row locks there, and decoding meanwhile is what let them outrun one:
docs/performance.md).

Delivery is at least once: the client uses paho's manual acknowledgement, and a batch's messages are
acknowledged only after its points are in InfluxDB and its twin/alarm rows are committed. A message
that never got acknowledged (ingest killed, InfluxDB away) is sent again by the broker, which is
harmless: a rewritten point is the same point, an alarm is stored once, an older reading never
replaces a newer one, a replayed state sample never opens a second usage session. The broker keeps
the session (fixed client id, MQTT 5 clean start off, no expiry) while ingest is down, so messages
published meanwhile are delivered when it comes back.

Several workers (processes, each with its own client id) share the stream through MQTT 5 shared
subscriptions in one group (`subscriptions`): the broker gives each telemetry or event message to one
of them. Samples of one resource then reach different workers in any order; the twin keeps the newest
reading by device time and usage sessions are built in device time from whatever arrives, with the
per-resource rows locked, so the result does not depend on which worker got what (docs/ingest.md).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from backend.adapters.influx import InfluxWriter, telemetry_lines
from backend.adapters.mqtt import Broker, prepare
from backend.db import unit_of_work, writer
from backend.domain.telemetry_checks import (
    REFUSED_FUTURE,
    Period,
    in_periods,
    is_future,
    ns_to_datetime,
    sort_samples,
)
from backend.domain.usage import Observation, Readings, UsageRules, is_state
from backend.ingest.decode import TelemetryMessage, decode_telemetry, latest_values
from backend.ingest.faults import FaultRepairs
from backend.logs import get_logger
from backend.services.devices import commands
from backend.services.telemetry import checks, rule_watch, twins, usage
from edge_agent.protocol import (
    QOS,
    Channel,
    CommandAck,
    Event,
    PayloadError,
    StatusOffline,
    StatusOnline,
    parse_payload,
    parse_topic,
    subscription,
    to_epoch_ns,
)

log = get_logger("pilotshare.ingest")

DEFAULT_GROUP = "pilotshare-ingest"
#: The broker may send a worker this many messages before it acknowledges any (MQTT 5 Receive Maximum).
#: Mosquitto's own default for MQTT 3.1.1 clients is 20, which kept a backlog trickling in.
RECEIVE_MAXIMUM = 400
#: Messages received and not yet taken into a batch. When it is full, the network thread waits, so the
#: broker keeps the backlog: Mosquitto 2 (with `max_inflight_messages 0`) sent a draining worker 9,000
#: unacknowledged messages despite its Receive Maximum, 230 MB of them in this queue when it held 20,000.
RECEIVED_MAXIMUM = 2 * RECEIVE_MAXIMUM
NEVER_EXPIRES = 0xFFFFFFFF


def subscriptions(group: str) -> list[str]:
    """What one ingest worker subscribes to.

    Telemetry and events through the shared subscription `$share/{group}/...`: the broker hands each
    message to one worker of the group. Status through a plain subscription: status messages are few, each
    worker applies them idempotently, and only a plain subscription receives the retained births of agents
    that went online before the worker subscribed (MQTT 5 sends no retained messages to shared ones).
    """
    shared = [
        f"$share/{group}/{subscription(channel=c)}"
        for c in (Channel.TELEMETRY, Channel.EVENT, Channel.CMD_ACK)
    ]
    return [*shared, subscription(channel=Channel.STATUS)]


#: What a worker subscribed to before workers shared the stream: left behind in a kept session, the plain
#: telemetry subscription would deliver every message a second time.
_UNSHARED = [subscription(channel=c) for c in (Channel.TELEMETRY, Channel.EVENT)]
ALARM_KINDS = frozenset({"alarm", "fault"})
SYS_DROPPED = "$SYS/broker/publish/messages/dropped"
#: A few seconds at most between attempts to reach the broker. After a restart Mosquitto 2.0 has
#: forgotten shared subscriptions, so what agents publish until ingest subscribes again is lost (and
#: counted as missing messages): the sooner ingest is back, the less (docs/ingest.md, "Nothing lost").
RECONNECT_MAX_S = 3
#: how often ingest reads again which months are settled (invoiced)
SETTLED_REFRESH_S = 30.0
T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: datetime


@dataclass
class IngestStats:
    messages: int = 0
    bad_payloads: int = 0
    samples: int = 0
    refused_future: int = 0
    quarantined: int = 0
    twins_changed: int = 0
    alarms: int = 0
    rule_alarms_raised: int = 0
    rule_alarms_cleared: int = 0
    faults: int = 0
    usage_sessions_changed: int = 0
    command_acks: int = 0
    unknown_resources: Counter[str] = field(default_factory=Counter)


@dataclass
class Digest:
    """What one batch says, decoded and checked: lines for InfluxDB and what goes into the SQL database."""

    lines: list[str] = field(default_factory=list)
    changes: dict[int, twins.TwinChanges] = field(default_factory=dict)
    alarms: list[twins.AlarmRecord] = field(default_factory=list)
    # Per resource, in arrival order, for usage sessions: each telemetry message's readings, a status
    # birth's state, None for a Last Will (never an empty list).
    states: dict[int, list[usage.Item]] = field(default_factory=dict)
    held: checks.HeldBack = field(default_factory=checks.HeldBack)
    command_acks: list[commands.Ack] = field(default_factory=list)
    # Per resource: what threshold rules and the fault watch judge (samples, births, state events).
    watched: dict[int, list[rule_watch.Sample]] = field(default_factory=dict)


def _first_line(exc: SQLAlchemyError) -> str:
    """The database's own message (SQLAlchemy puts notes such as "raised as a result of Query-invoked
    autoflush" before it)."""
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0][:300] if str(cause).strip() else type(cause).__name__


class ResourceDirectory:
    """(platform code, resource code) -> resource id, cached; unknown codes are looked up again later."""

    def __init__(self, engine: Engine, retry_seconds: float = 10.0) -> None:
        self.engine = engine
        self.retry_seconds = retry_seconds
        self.known: dict[tuple[str, str], int] = {}
        self.missing_since: dict[tuple[str, str], float] = {}

    def resolve(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        now = time.monotonic()
        ask = {
            k
            for k in keys
            if k not in self.known and now - self.missing_since.get(k, -1e9) >= self.retry_seconds
        }
        if ask:
            with unit_of_work(self.engine) as session:
                found = twins.resource_ids_by_code(session, ask)
            self.known.update(found)
            for key in ask - set(found):
                self.missing_since[key] = now
        return {k: self.known[k] for k in keys if k in self.known}


class Ingest:
    def __init__(
        self,
        mqtt_url: str,
        engine: Engine,
        influx: InfluxWriter,
        *,
        client_id: str = "pilotshare-ingest",
        group: str = DEFAULT_GROUP,
        batch_messages: int = 200,
        batch_seconds: float = 0.1,
        max_queue: int = RECEIVED_MAXIMUM,
        usage_rules: UsageRules | None = None,
        login: tuple[str, str] | None = None,
        ca_file: Path | None = None,
        max_skew_seconds: float = 300.0,
        settled_refresh_s: float = SETTLED_REFRESH_S,
        rules_refresh_s: float = rule_watch.REFRESH_SECONDS,
        repair_faults: bool = True,
    ) -> None:
        self.mqtt_url = mqtt_url
        #: ingest's account (docs/security.md); without it, the user and password in ``mqtt_url``
        self.login = login
        self.broker = Broker.of(mqtt_url)
        self.ca_file = ca_file
        self.engine = engine
        self.influx = influx
        self.batch_messages = batch_messages
        self.batch_seconds = batch_seconds
        # and the broker's own count of messages it dropped (docs/ingest.md, "Nothing lost")
        self.topics = [*subscriptions(group), SYS_DROPPED]
        self.max_skew_ns = int(max_skew_seconds * 1e9)
        self._settled: dict[int, list[Period]] = {}
        self._platform_of: dict[int, int] = {}
        self.settled_refresh_s = settled_refresh_s
        self._settled_read = -settled_refresh_s
        self.usage_rules = usage_rules or UsageRules()
        self.stats = IngestStats()
        self.directory = ResourceDirectory(engine)
        # threshold rules and fault episodes (docs/ingest.md, "Alarm rules"); repairs in their own thread
        self.rules = rule_watch.RuleBook(engine, rules_refresh_s)
        self.fault_repairs = FaultRepairs(engine) if repair_faults else None
        self._with_twin: set[int] = set()  # resources whose twin row exists (made before a batch locks it)
        self._queue: queue.Queue[Received] = queue.Queue(maxsize=max_queue)
        # a decoded batch on its way to the SQL step: the next batch is decoded while one is stored
        self._digests: queue.Queue[tuple[Digest, list[tuple[int, int]]] | None] = queue.Queue(maxsize=1)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._worker: threading.Thread | None = None
        self._storer: threading.Thread | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # ------------------------------------------------------------------ MQTT callbacks (network thread)

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("ingest.connect_refused", reason=str(reason))
            return
        client.subscribe([(topic, QOS) for topic in self.topics])
        client.unsubscribe(_UNSHARED)
        log.info("ingest.connected", broker=str(self.broker), topics=self.topics)

    def _on_subscribe(
        self, _client: mqtt.Client, _u: Any, _mid: int, reasons: list[Any], _props: Any
    ) -> None:
        # Ready only now: the broker routes nothing to a session before its SUBACK.
        refused = [t for t, r in zip(self.topics, reasons, strict=False) if r.is_failure]
        if refused:
            log.error("ingest.subscribe_refused", topics=refused, reasons=[str(r) for r in reasons])
            return
        log.info("ingest.subscribed", topics=self.topics)
        self._connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("ingest.disconnected", reason=str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Blocks when the worker is behind: the broker then holds the rest (back-pressure).
        self._queue.put(
            Received(message.topic, bytes(message.payload), message.mid, message.qos, datetime.now(UTC))
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        prepare(self.client, self.broker, self.login, self.ca_file)
        self.influx.start()
        if self.fault_repairs is not None:
            self.fault_repairs.start()
        self._worker = threading.Thread(target=self._work, name="ingest-worker", daemon=True)
        self._storer = threading.Thread(target=self._store_work, name="ingest-store", daemon=True)
        self._worker.start()
        self._storer.start()
        # The broker keeps the session (and what arrives for it) while ingest is away.
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = NEVER_EXPIRES
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=30,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """True once connected and subscribed (the broker acknowledged every subscription)."""
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Finish what was received, write it, acknowledge it, then disconnect."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        for thread in (self._worker, self._storer):
            if thread is not None:
                thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self.influx.stop(timeout=max(0.1, deadline - time.monotonic()))
        if self.fault_repairs is not None:
            self.fault_repairs.stop(timeout=max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()
        log.info(
            "ingest.stopped",
            messages=self.stats.messages,
            samples=self.stats.samples,
            bad_payloads=self.stats.bad_payloads,
            unknown_resources=sum(self.stats.unknown_resources.values()),
        )

    # ------------------------------------------------------------------ worker thread

    def _take_batch(self) -> list[Received]:
        batch: list[Received] = []
        try:
            batch.append(self._queue.get(timeout=0.2))
        except queue.Empty:
            return batch
        deadline = time.monotonic() + self.batch_seconds
        while len(batch) < self.batch_messages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _work(self) -> None:
        """Decode batches and hand them to the store thread, which stores one batch while this one
        decodes the next."""
        try:
            while True:
                batch = self._take_batch()
                if not batch:
                    if self._stopping.is_set():
                        return
                    continue
                try:
                    digest = self.digest(batch)
                except Exception:
                    # Not acknowledged: the broker sends these again after a reconnect.
                    log.exception("ingest.batch_failed", messages=len(batch))
                    time.sleep(1)
                    continue
                acks = [(item.mid, item.qos) for item in batch]
                # Not held here while the next batch is taken and decoded, and handed over only when the
                # store thread takes it: two batches in memory at most, one stored while the next decodes.
                del batch
                self._digests.put((digest, acks))
                del digest
                self._digests.join()
        finally:
            self._digests.put(None)

    def _store_work(self) -> None:
        """Commit each batch's rows, then hand its lines to the InfluxDB writer, which acknowledges the
        batch once they are written (so a point in InfluxDB means its twin was updated before)."""
        while (item := self._digests.get()) is not None:
            self._digests.task_done()  # taken: the worker thread goes on to the next batch
            digest, acks = item
            del item
            try:
                self._store_and_write(digest, acks)
            except Exception:
                log.exception("ingest.batch_failed", messages=len(acks))
                time.sleep(1)
            del digest  # not held while waiting for the next batch

    def _with_retries(self, what: str, step: Callable[[], T]) -> T:
        """Run a database step; while the database is away, retry with back-off (until stopped)."""
        delay = 0.5
        while True:
            try:
                return step()
            except SQLAlchemyError as exc:
                if self._stopping.is_set():
                    raise
                log.warning("ingest.db_retry", step=what, error=_first_line(exc), in_seconds=delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def process(self, batch: list[Received]) -> None:
        """One batch start to end in the calling thread (the running service splits it between two
        threads: `_work`, `_store_work`)."""
        self._store_and_write(self.digest(batch), [(item.mid, item.qos) for item in batch])

    def _store_and_write(self, digest: Digest, acks: list[tuple[int, int]]) -> None:
        """The batch's rows committed, then its lines to the InfluxDB writer, which acknowledges the
        batch's messages once they are written."""
        self.store(digest)
        self.influx.submit(digest.lines, done=functools.partial(self._ack, acks))

    def digest(self, batch: list[Received]) -> Digest:
        """Decode and check a batch: its InfluxDB lines and what it changes in the SQL database."""
        out = Digest()
        held, lines, changes, alarms = out.held, out.lines, out.changes, out.alarms
        states, command_acks, watched = out.states, out.command_acks, out.watched
        for item in batch:
            if item.topic == SYS_DROPPED:
                with contextlib.suppress(ValueError):
                    held.gauges[checks.BROKER_DROPPED] = float(item.payload)
        parsed = self._decode([item for item in batch if not item.topic.startswith("$SYS/")])
        keys = {(p, r) for _, p, r, _ in parsed}
        ids = self._with_retries("resolve", lambda: self.directory.resolve(keys))
        self._with_retries("settled", lambda: self._read_settled(set(ids.values())))
        now_ns = time.time_ns()
        for item, platform, resource, payload in parsed:
            resource_id = ids.get((platform, resource))
            if resource_id is None:
                self._unknown(platform, resource)
                continue
            change = changes.setdefault(resource_id, twins.TwinChanges())
            platform_id = self._platform_of[resource_id]
            settled = self._settled.get(platform_id, [])
            if isinstance(payload, TelemetryMessage):
                held.seqs[(resource_id, payload.agent)].append(payload.seq)
                verdict = sort_samples(payload.points, now_ns, self.max_skew_ns, settled)
                if verdict.future:
                    held.refuse(resource_id, platform_id, REFUSED_FUTURE, verdict.future)
                    self.stats.refused_future += len(verdict.future)
                    log.warning(
                        "ingest.refused_future",
                        resource=resource,
                        agent=payload.agent,
                        samples=len(verdict.future),
                    )
                if verdict.settled:
                    held.quarantine(resource_id, platform_id, payload.agent, verdict.settled)
                    self.stats.quarantined += len(verdict.settled)
                    log.warning(
                        "ingest.quarantined",
                        resource=resource,
                        agent=payload.agent,
                        samples=len(verdict.settled),
                    )
                points = verdict.kept
                if not points:
                    continue
                lines.extend(telemetry_lines(platform, resource, points))
                watched.setdefault(resource_id, []).extend(points)
                for name, (ts_ns, value) in latest_values(points).items():
                    change.read(name, ts_ns, value)
                states.setdefault(resource_id, []).append(Readings(payload.agent, points))
                self.stats.samples += len(points)
            elif isinstance(payload, StatusOnline):
                since_ns = to_epoch_ns(payload.since)
                if is_future(since_ns, now_ns, self.max_skew_ns):
                    held.refuse(resource_id, platform_id, REFUSED_FUTURE, [(since_ns, dict(payload.fields))])
                    self.stats.refused_future += 1
                    continue
                change.connection = ("online", ns_to_datetime(since_ns), payload.agent)
                if in_periods(since_ns, settled):
                    continue  # online now, but its readings belong to a settled month
                for name, value in payload.fields.items():
                    change.read(name, since_ns, value)
                watched.setdefault(resource_id, []).append((since_ns, payload.fields))
                if is_state(payload.fields.get("state")):
                    observed = Observation(
                        ns_to_datetime(since_ns), str(payload.fields["state"]), "status", payload.agent
                    )
                    states.setdefault(resource_id, []).append(observed)
            elif isinstance(payload, StatusOffline):
                change.connection = ("offline", item.received_at, None)
                states.setdefault(resource_id, []).append(None)
            elif isinstance(payload, CommandAck):
                command_acks.append(commands.Ack(resource_id, payload.id, payload.ok, payload.error))
            elif isinstance(payload, Event) and payload.kind in ALARM_KINDS:
                if is_future(to_epoch_ns(payload.ts), now_ns, self.max_skew_ns):
                    self.stats.refused_future += 1
                    continue
                alarms.append(
                    twins.AlarmRecord(
                        resource_id=resource_id,
                        ts=ns_to_datetime(to_epoch_ns(payload.ts)),
                        kind=payload.kind,
                        code=payload.code,
                        severity=payload.severity,
                        message=payload.message,
                        agent=getattr(payload, "agent", None),
                    )
                )
            elif isinstance(payload, Event) and payload.kind == "state":
                ts_ns = to_epoch_ns(payload.ts)
                if not is_future(ts_ns, now_ns, self.max_skew_ns):
                    watched.setdefault(resource_id, []).append((ts_ns, {"state": payload.code}))

        return out

    def store(self, digest: Digest) -> None:
        """A digested batch into the SQL database (retrying while the database is away)."""
        new_twins = set(digest.changes) - self._with_twin
        if new_twins:
            self._with_retries("twins", lambda: twins.ensure_twins(self.engine, new_twins))
            self._with_twin |= new_twins
        if digest.changes or digest.alarms or digest.held:
            rules = self._with_retries("rules", lambda: self.rules.for_resources(digest.watched))
            changed, new_alarms, sessions, judged = self._with_retries(
                "twins", lambda: self._store(digest, rules)
            )
            self.stats.twins_changed += changed
            self.stats.alarms += new_alarms
            self.stats.usage_sessions_changed += sessions
            self._judged(judged)
        if digest.command_acks:
            self._with_retries("commands", lambda: self._record_command_acks(digest.command_acks))

    def _decode(self, batch: list[Received]) -> list[tuple[Received, str, str, Any]]:
        """(message, platform, resource, payload) for each message that keeps the contract; the rest
        are counted and logged with the reason, naming the bad field."""
        parsed: list[tuple[Received, str, str, Any]] = []
        for item in batch:
            self.stats.messages += 1
            try:
                parts = parse_topic(item.topic)
                if parts.channel is Channel.TELEMETRY:
                    payload: Any = decode_telemetry(item.payload)
                else:
                    payload = parse_payload(parts.channel, item.payload)
            except PayloadError as exc:
                self.stats.bad_payloads += 1
                log.warning("ingest.bad_payload", topic=item.topic, reason=str(exc)[:500])
                continue
            parsed.append((item, parts.platform, parts.resource, payload))
        return parsed

    def _unknown(self, platform: str, resource: str) -> None:
        key = f"{platform}/{resource}"
        self.stats.unknown_resources[key] += 1
        count = self.stats.unknown_resources[key]
        if count == 1 or count % 1000 == 0:
            log.warning("ingest.unknown_resource", platform=platform, resource=resource, messages=count)

    def _store(
        self, digest: Digest, rules: dict[int, list[rule_watch.Rule]]
    ) -> tuple[int, int, int, rule_watch.Outcome]:
        with unit_of_work(writer(self.engine)) as session:
            changed = twins.apply_changes(session, digest.changes)  # locks the batch's twins: see rule_watch
            counts = (
                changed,
                twins.store_alarms(session, digest.alarms),
                usage.record(session, digest.states, self.usage_rules),
                rule_watch.evaluate(session, rules, digest.watched),
            )
            checks.store(session, digest.held)
            return counts

    def _record_command_acks(self, acks: list[commands.Ack]) -> None:
        """Devices' answers to commands (`cmd/ack`) settle them: applied, or refused with the reason."""
        with unit_of_work(writer(self.engine)) as session:
            settled = commands.record_acks(session, acks)
        self.stats.command_acks += settled
        log.info("ingest.command_acks", acks=len(acks), settled=settled)

    def _judged(self, outcome: rule_watch.Outcome) -> None:
        """After the batch committed: count what the rules did, and repair the faults it saw."""
        self.stats.rule_alarms_raised += outcome.raised
        self.stats.rule_alarms_cleared += outcome.cleared
        self.stats.faults += len(outcome.faults)
        if outcome.faults:
            log.info("ingest.fault_episodes", faults=outcome.faults)
            if self.fault_repairs is not None:
                self.fault_repairs.submit(outcome.faults)

    def _read_settled(self, resource_ids: set[int]) -> None:
        """Which months are settled, and the platform of each resource, read again every little while."""
        stale = time.monotonic() - self._settled_read >= self.settled_refresh_s
        unknown = resource_ids - self._platform_of.keys()
        if not stale and not unknown:
            return
        with unit_of_work(self.engine) as session:
            if stale:
                self._settled = checks.settled_periods(session)
                self._settled_read = time.monotonic()
            if unknown:
                self._platform_of.update(checks.platforms_of(session, unknown))

    def _ack(self, acks: list[tuple[int, int]]) -> None:
        for mid, qos in acks:
            if qos > 0:
                self.client.ack(mid, qos)
