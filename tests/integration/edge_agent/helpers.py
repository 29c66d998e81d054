"""Edge agent integration tests: a recording MQTT subscriber and a polling helper."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_agent import protocol
from tests.support.mosquitto import MosquittoBroker


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Recorder:
    """A QoS 1 subscriber with a persistent session, so nothing is missed across a broker restart.

    It reads with ingest's account (the only one that reads everything) and sends commands with the
    backend's (the only one allowed to)."""

    broker: MosquittoBroker
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: Any = None
    subscribed: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Recorder:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex[:8]}", clean_session=False
        )
        client.username_pw_set(*self.broker.login("ingest"))
        client.reconnect_delay_set(1, 1)

        def on_connect(c: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
            c.subscribe(protocol.subscription(), qos=1)

        def on_subscribe(c: Any, u: Any, mid: Any, reasons: Any, p: Any) -> None:
            # Only now does the broker route messages here; connected alone is too early.
            self.subscribed.set()

        def on_disconnect(c: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
            self.subscribed.clear()

        def on_message(c: Any, u: Any, msg: Any) -> None:
            with self.lock:
                self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))

        client.on_connect = on_connect
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        self.client = client
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def on(self, channel: str) -> list[Any]:
        """Validated payloads received on one channel, in arrival order."""
        with self.lock:
            msgs = list(self.messages)
        out = []
        for m in msgs:
            parts = protocol.parse_topic(m.topic)
            if parts.channel == channel:
                out.append(protocol.parse_payload(parts.channel, m.payload))
        return out

    def telemetry(self) -> list[protocol.Telemetry]:
        return self.on("telemetry")

    def sample_ts(self) -> set[int]:
        return {s.ts_ns for t in self.telemetry() for s in t.samples}

    def publish(self, topic: str, payload: bytes, who: str = "backend") -> None:
        sender = self.broker.client(who)
        try:
            sender.publish(topic, payload)
        finally:
            sender.close()


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)
