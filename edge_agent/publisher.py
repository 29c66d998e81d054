"""MQTT side of the agent (paho-mqtt 2.x): birth and will, commands in, buffered messages out.

paho's network loop runs in its own thread (``loop_start``); its callbacks only hand work to the agent's
asyncio queue (``inbox``), where everything else happens — the Home Assistant / aiomqtt pattern. The one
exception is re-subscribing in ``on_connect``, so a reconnect never misses commands.

Outgoing telemetry, events and acks come from the :class:`~edge_agent.buffer.DiskBuffer`: rows are
handed to paho in order, at most ``max_inflight`` unacknowledged at a time, and deleted on PUBACK. paho
keeps a message it could not send (or that was never acknowledged) and sends it again after it reconnects,
so the publisher only hands over rows newer than the last one it gave paho; after an agent restart that
is every row in the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from edge_agent import protocol
from edge_agent.buffer import DiskBuffer
from edge_agent.settings import AgentSettings

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, settings: AgentSettings, buffer: DiskBuffer) -> None:
        self.settings = settings
        self.buffer = buffer
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.connected = False
        self.connects = 0
        self.acked_samples = 0
        self.acked_messages = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._inflight: dict[int, tuple[int, int]] = {}  # paho mid -> (buffer row id, samples)
        self._sent_upto = 0  # highest buffer row id handed to paho by this process
        self._status_mid: int | None = None
        p, r = settings.platform, settings.resource
        self.topics = {
            "telemetry": protocol.telemetry_topic(p, r),
            "status": protocol.status_topic(p, r),
            "event": protocol.event_topic(p, r),
            "cmd": protocol.cmd_topic(p, r),
            "cmd/ack": protocol.cmd_ack_topic(p, r),
        }

    # ------------------------------------------------------------------ paho thread: callbacks only queue

    def _put(self, *item: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the event loop closed during shutdown
            self._loop.call_soon_threadsafe(self.inbox.put_nowait, item)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._put("connect_failed", str(reason))
            return
        client.subscribe(self.topics["cmd"], qos=protocol.QOS)
        self._put("connected")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._put("disconnected", str(reason))

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._put("puback", mid)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._put("message", msg.topic, bytes(msg.payload))

    # ------------------------------------------------------------------ agent loop side

    def start(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self._loop = asyncio.get_running_loop()
        m = self.settings.mqtt
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=m.client_id or self.settings.agent_id,
            clean_session=True,
        )
        client.will_set(self.topics["status"], protocol.LAST_WILL, qos=protocol.QOS, retain=True)
        client.username_pw_set(m.username, m.password)
        if m.uses_tls:
            tls = m.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls and tls.ca_file else None,
                certfile=str(tls.cert_file) if tls and tls.cert_file else None,
                keyfile=str(tls.key_file) if tls and tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            if tls and tls.insecure:
                client.tls_insecure_set(True)
        client.reconnect_delay_set(max(1, round(m.reconnect_min_s)), max(1, round(m.reconnect_max_s)))
        client.max_inflight_messages_set(m.max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        # connect_async + loop_start: the first connection attempt and every later one retry in paho's
        # thread with back-off, so a broker that starts after the agent is fine
        client.connect_async(m.host, m.port, keepalive=m.keepalive_s)
        client.loop_start()
        self._client = client

    def publish_status(self, payload: bytes) -> None:
        """Retained status (birth, changes, the clean offline); paho sends it on connect if not connected."""
        info = self._client.publish(self.topics["status"], payload, qos=protocol.QOS, retain=True)
        self._status_mid = info.mid

    def on_pubacks(self, mids: list[int]) -> None:
        """The broker has these messages: forget them (one buffer transaction for the lot)."""
        rows = []
        for mid in mids:
            if mid == self._status_mid:
                self._status_mid = None
            entry = self._inflight.pop(mid, None)
            if entry is not None:
                rows.append(entry[0])
                self.acked_messages += 1
                self.acked_samples += entry[1]
        self.buffer.remove(rows)

    def on_connected(self) -> None:
        self.connected = True
        self.connects += 1
        log.info(
            "mqtt connected to %s (%s), %d buffered message(s) to send",
            self.settings.mqtt.host,
            "first time" if self.connects == 1 else f"reconnect #{self.connects - 1}",
            self.buffer.count,
        )

    def on_disconnected(self, reason: str) -> None:
        if self.connected:
            log.warning("mqtt disconnected (%s); buffering to %s", reason, self.buffer.path)
        self.connected = False

    def pump(self) -> None:
        """Hand the next buffered rows to paho while connected and under the in-flight limit."""
        if not self.connected:
            return
        room = self.settings.mqtt.max_inflight - len(self._inflight)
        if room <= 0:
            return
        for row in self.buffer.after(self._sent_upto, room):
            info = self._client.publish(row.topic, row.payload, qos=protocol.QOS)
            self._inflight[info.mid] = (row.id, row.samples)
            self._sent_upto = row.id

    @property
    def idle(self) -> bool:
        """Nothing waiting: every buffered message and the last status were acknowledged."""
        return self.buffer.count == 0 and not self._inflight and self._status_mid is None

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
