"""`pilotshare commands`: the command outbox onto the broker (docs/commands.md).

Every `poll_seconds` one short transaction marks commands past their deadline expired, another claims the
commands due (`backend.services.devices.commands.claim_due`: new ones, those not acknowledged within
their retry delay, and those whose device came back online since they were last sent) and the claimed
ones are published QoS 1 on their resource's `cmd` topic. Every `sweep_seconds` the interlock sweep
queues the unlocks due at a booking's start and the locks due at its end.

Claims are guarded row updates, so a second dispatcher (by mistake or during a rolling restart) never
sends the same attempt twice; it only shares the work. Nothing is claimed while the broker is away.
The device's acks come back through ingest (`cmd/ack`), which settles the commands.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from backend.adapters.mqtt import Broker, prepare
from backend.db import unit_of_work, writer
from backend.logs import get_logger
from backend.models.types import utcnow
from backend.services.bookings import interlock
from backend.services.devices import commands
from edge_agent.protocol import QOS, cmd_topic

log = get_logger("pilotshare.commands")

RECONNECT_MAX_S = 3


@dataclass
class DispatchStats:
    rounds: int = 0
    sent: int = 0
    expired: int = 0
    unlocks: int = 0
    locks: int = 0
    db_errors: int = 0


class Dispatcher:
    def __init__(
        self,
        mqtt_url: str,
        engine: Engine,
        *,
        login: tuple[str, str] | None = None,
        ca_file: Path | None = None,
        client_id: str = "pilotshare-commands",
        retry_seconds: float = 10.0,
        poll_seconds: float = 0.5,
        sweep_seconds: float = 5.0,
    ) -> None:
        self.mqtt_url = mqtt_url
        self.login = login
        self.engine = engine
        self.first_retry = timedelta(seconds=retry_seconds)
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self.stats = DispatchStats()
        self.broker = Broker.of(mqtt_url)
        self.ca_file = ca_file
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = -sweep_seconds
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    # ------------------------------------------------------------------ MQTT callbacks (network thread)

    def _on_connect(self, _client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("commands.connect_refused", reason=str(reason))
            return
        log.info("commands.connected", broker=str(self.broker))
        self._connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("commands.disconnected", reason=str(reason))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        prepare(self.client, self.broker, self.login, self.ca_file)
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="commands", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        log.info("commands.stopped", sent=self.stats.sent, expired=self.stats.expired)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except SQLAlchemyError as exc:
                self.stats.db_errors += 1
                log.warning("commands.db_error", error=str(getattr(exc, "orig", exc)).splitlines()[0][:300])
            except Exception:  # one bad round must not end the dispatcher
                log.exception("commands.round_failed")
            self._stopping.wait(self.poll_seconds)

    # ------------------------------------------------------------------ one round

    def run_once(self) -> None:
        try:
            self._round()
        finally:
            self.stats.rounds += 1

    def _round(self) -> None:
        now = utcnow()
        if time.monotonic() - self._last_sweep >= self.sweep_seconds:
            self._sweep_interlocks()
        # Reads first: an idle dispatcher never takes the write lock (SQLite has one for the database).
        with unit_of_work(self.engine) as session:
            overdue = commands.overdue(session, now)
            due = bool(commands.due(session, now, limit=1))
        if overdue:
            with unit_of_work(writer(self.engine)) as session:
                expired = commands.expire_overdue(session, now)
            self.stats.expired += len(expired)
            log.info("commands.expired", commands=expired)
        if not due or not self._connected.is_set():
            return  # claimed while the broker is away, they would count attempts it never saw
        with unit_of_work(writer(self.engine)) as session:
            outgoing = commands.claim_due(session, now, self.first_retry)
        for item in outgoing:
            self.client.publish(cmd_topic(item.platform, item.resource), item.payload, qos=QOS)
            self.stats.sent += 1
            log.info("commands.sent", command=item.id, platform=item.platform, resource=item.resource)

    def _sweep_interlocks(self) -> None:
        self._last_sweep = time.monotonic()
        with unit_of_work(self.engine) as session:
            to_unlock, to_lock = interlock.due(session, utcnow())
        if not to_unlock and not to_lock:
            return
        with unit_of_work(writer(self.engine)) as session:
            unlocks, locks = interlock.sweep(session)
        self.stats.unlocks += unlocks
        self.stats.locks += locks
        if unlocks or locks:
            log.info("commands.interlock", unlocks=unlocks, locks=locks)
