"""The edge agent: the composition root wiring driver, disk buffer, MQTT publisher and commands.

Three tasks share one event loop (so no locks beyond the driver's): the sampler reads the instrument on
a fixed grid (``start + k / hz``), the batcher turns the samples of each ``batch_interval_s`` into one
telemetry message in the disk buffer, and the inbox task reacts to MQTT (connects, PUBACKs, commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from edge_agent import commands, protocol
from edge_agent.buffer import DiskBuffer
from edge_agent.drivers import make_driver
from edge_agent.protocol import Driver, DriverError, DriverValue
from edge_agent.publisher import Publisher
from edge_agent.settings import AgentSettings

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 10.0  # at shutdown, how long to wait for the broker to take what is buffered
#: upper bound on one driver call, in case a protocol library never answers (its own timeouts come first)
CALL_TIMEOUT_S = 15.0
DROP_EVENT_EVERY_S = 60.0
STOP_TIMEOUT_S = 5.0


@dataclass
class AgentStats:
    samples_read: int = 0
    ticks_skipped: int = 0
    read_errors: int = 0
    messages_buffered: int = 0
    #: timestamps (epoch ns) of every sample read, for tests and benchmarks that check delivery
    sample_ts: list[int] = field(default_factory=list)
    keep_ts: bool = False


def clean_fields(fields: dict[str, DriverValue]) -> dict[str, DriverValue]:
    """Drop values the contract cannot carry (NaN/infinite floats), e.g. a float32 register full of ones."""
    return {k: v for k, v in fields.items() if not (isinstance(v, float) and not math.isfinite(v))}


class Agent:
    def __init__(self, settings: AgentSettings, driver: Driver | None = None) -> None:
        self.settings = settings
        self.driver: Driver = driver or make_driver(settings.device.driver, settings.device.section())
        self.stats = AgentStats()
        self.instrument_online = False
        self.since = protocol.rfc3339()
        self._samples: list[dict[str, Any]] = []
        self._last_state: DriverValue | None = None
        self._last_alarm: DriverValue | None = None
        self._driver_lock = asyncio.Lock()
        self._unreported_drops = 0
        self._last_drop_event = -math.inf
        self.buffer: DiskBuffer | None = None
        self.publisher: Publisher | None = None

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self.buffer = DiskBuffer(s.buffer.dir / f"{s.agent_id}.sqlite3", s.buffer.max_bytes)
        if self.buffer.count:
            log.info("%d message(s) left in the buffer from before; they go first", self.buffer.count)
        self.publisher = Publisher(s, self.buffer)
        self.publisher.start()  # the birth goes out from the inbox task on every connect
        tasks = [
            asyncio.create_task(self._sample_loop(), name="sampler"),
            asyncio.create_task(self._batch_loop(), name="batcher"),
            asyncio.create_task(self._inbox_loop(), name="inbox"),
        ]
        try:
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception():
                    raise task.exception()  # type: ignore[misc]
            stopper.cancel()
        finally:
            await self._shutdown(tasks)

    async def _shutdown(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Flush the last samples, let the broker take the buffer, say offline, close everything."""
        sampler, batcher, inbox = tasks
        batcher.cancel()
        # Cancel the sampler between driver calls (every call holds the lock): a protocol library cancelled
        # in the middle of a request may swallow the cancellation, and then the agent would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT_S), self._driver_lock:
                sampler.cancel()
        sampler.cancel()
        _, pending = await asyncio.wait({sampler, batcher}, timeout=STOP_TIMEOUT_S)
        if pending:
            log.warning("the instrument driver did not stop within %s s; leaving it behind", STOP_TIMEOUT_S)
        self._flush()
        pub = self.publisher
        assert pub is not None and self.buffer is not None
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        if pub.connected:
            pub.pump()
            while not pub.idle and pub.connected and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            pub.publish_status(protocol.StatusOffline().to_json())
            while pub.connected and not pub.idle and time.monotonic() < deadline + 2:
                await asyncio.sleep(0.02)
        inbox.cancel()
        await asyncio.gather(inbox, return_exceptions=True)
        pub.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT_S), self._driver_lock:
                await self.driver.close()
        left = self.buffer.count
        self.buffer.close()
        log.info(
            "stopped: %d sample(s) read, %d acknowledged by the broker, %d message(s) left in the buffer",
            self.stats.samples_read,
            pub.acked_samples,
            left,
        )

    # ------------------------------------------------------------------ instrument

    async def _connect_instrument(self) -> None:
        delay = self.settings.device.reconnect_min_s
        while True:
            try:
                # asyncio.timeout, not wait_for: wait_for runs the call as a separate task, and cancelling
                # that pair at the wrong moment can leave the agent unable to stop (seen on Python 3.11)
                async with self._driver_lock, asyncio.timeout(CALL_TIMEOUT_S):
                    await self.driver.connect()
            except (DriverError, TimeoutError) as exc:
                log.warning("instrument unreachable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.device.reconnect_max_s)
                continue
            log.info("instrument connected (%s)", self.driver.name)
            self._instrument_changed(True, "connected")
            return

    async def _sample_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.settings.sampling.hz
        period_ns = round(period * 1e9)
        await self._connect_instrument()
        start, start_ns, k = loop.time(), time.time_ns(), 0
        while True:
            due = start + k * period
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif -wait > period:  # fell behind by more than a tick: skip, never invent timestamps
                missed = math.floor(-wait / period)
                self.stats.ticks_skipped += missed
                k += missed
                continue
            ts = start_ns + k * period_ns
            k += 1
            try:
                async with self._driver_lock, asyncio.timeout(CALL_TIMEOUT_S):
                    fields = await self.driver.read()
            except (DriverError, TimeoutError) as exc:
                self.stats.read_errors += 1
                log.warning("instrument read failed: %s", exc)
                self._instrument_changed(False, str(exc))
                await self._connect_instrument()
                k = max(k, math.ceil((loop.time() - start) / period))  # resume on the grid, now
                continue
            self._add_sample(ts, clean_fields(fields))

    def _add_sample(self, ts: int, fields: dict[str, DriverValue]) -> None:
        if not fields:
            return
        self._samples.append({"ts": ts, "fields": fields})
        self.stats.samples_read += 1
        if self.stats.keep_ts:
            self.stats.sample_ts.append(ts)
        state, alarm = fields.get("state"), fields.get("alarm")
        if state is not None and state != self._last_state:
            if self._last_state is not None:
                self._event(ts, "state", str(state), "info", f"{self._last_state} -> {state}")
            self._last_state = state
        if alarm is not None and alarm != self._last_alarm:
            if self._last_alarm is not None:
                sev = "warning" if alarm else "info"
                self._event(ts, "alarm", "alarm", sev, "alarm raised" if alarm else "alarm cleared")
            self._last_alarm = alarm

    def _instrument_changed(self, online: bool, why: str) -> None:
        if online == self.instrument_online:
            return
        self.instrument_online = online
        ts = time.time_ns()
        if online:
            self._event(ts, "fault", "instrument_online", "info", f"instrument reachable again ({why})")
        else:
            self._event(ts, "fault", "instrument_offline", "critical", f"instrument unreachable: {why}")
        if self.publisher is not None:
            self.publisher.publish_status(self._birth())

    # ------------------------------------------------------------------ messages

    def _birth(self) -> bytes:
        fields: dict[str, DriverValue] = {
            **self.driver.describe(),
            "instrument": "online" if self.instrument_online else "offline",
            "hz": self.settings.sampling.hz,
        }
        return protocol.StatusOnline(agent=self.settings.agent_id, since=self.since, fields=fields).to_json()

    def _event(self, ts: int, kind: str, code: str, severity: str, message: str) -> None:
        assert self.buffer is not None and self.publisher is not None
        event = protocol.Event.model_validate(
            {"ts": ts, "kind": kind, "code": code, "severity": severity, "message": message}
        )
        self.buffer.append(self.publisher.topics["event"], event.to_json())
        self.publisher.pump()

    def _flush(self) -> None:
        """The samples gathered so far become one telemetry message (split at the contract's maximum)."""
        assert self.buffer is not None and self.publisher is not None
        while self._samples:
            batch = self._samples[: protocol.MAX_SAMPLES_PER_MESSAGE]
            del self._samples[: len(batch)]

            def build(seq: int, batch: list[dict[str, Any]] = batch) -> bytes:
                message = {"agent": self.settings.agent_id, "seq": seq, "samples": batch}
                return protocol.Telemetry.model_validate(message).to_json()

            dropped_before = self.buffer.dropped_samples
            self.buffer.append_with_seq(self.publisher.topics["telemetry"], build, samples=len(batch))
            self.stats.messages_buffered += 1
            self._unreported_drops += self.buffer.dropped_samples - dropped_before
            if self._unreported_drops and time.monotonic() - self._last_drop_event >= DROP_EVENT_EVERY_S:
                # the platform must learn that its data has a hole, not only the agent's log; at most one
                # event a minute, so a long outage does not fill the buffer with its own complaints
                lost, self._unreported_drops = self._unreported_drops, 0
                self._last_drop_event = time.monotonic()
                self._event(
                    time.time_ns(),
                    "fault",
                    "buffer_overflow",
                    "warning",
                    f"disk buffer full ({self.settings.buffer.max_mb:g} MB): dropped the oldest"
                    f" {lost} sample(s), {self.buffer.dropped_samples} since the agent started",
                )
        self.publisher.pump()

    async def _batch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sampling.batch_interval_s)
            self._flush()

    async def _inbox_loop(self) -> None:
        pub = self.publisher
        assert pub is not None and self.buffer is not None
        while True:
            items = [await pub.inbox.get()]
            while not pub.inbox.empty():
                items.append(pub.inbox.get_nowait())
            mids = [item[1] for item in items if item[0] == "puback"]
            if mids:
                pub.on_pubacks(mids)
            for item in items:
                kind = item[0]
                if kind == "connected":
                    pub.on_connected()
                    pub.publish_status(self._birth())
                elif kind == "disconnected":
                    pub.on_disconnected(item[1])
                elif kind == "connect_failed":
                    log.warning(
                        "mqtt broker refused the connection: %s (mqtt.username %r; docs/security.md)",
                        item[1],
                        self.settings.mqtt.username,
                    )
                elif kind == "message" and item[1] == pub.topics["cmd"]:
                    async with self._driver_lock:
                        ack = await commands.execute(self.driver, item[2], CALL_TIMEOUT_S)
                    self.buffer.append(pub.topics["cmd/ack"], ack.to_json())
            pub.pump()


async def run_agent(settings: AgentSettings, stop: asyncio.Event) -> Agent:
    agent = Agent(settings)
    with contextlib.suppress(asyncio.CancelledError):
        await agent.run(stop)
    return agent
