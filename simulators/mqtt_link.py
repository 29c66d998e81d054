"""MQTT side of the fleet: one paho client per device, all driven from one thread.

Why one connection per device: the contract gives every resource its own retained ``status`` topic with a
Last Will ``{"state": "offline"}``, and MQTT attaches a will to a connection. Sharing a connection between
devices would make one device's death invisible (or every device's death simultaneous). So each simulated
device owns a connection, exactly as one edge agent per instrument would.

Why one thread: 200 ``loop_start()`` threads on a 2-core machine spend their time context-switching. paho
supports an external event loop (``socket()``, ``loop_read()``, ``loop_write()``, ``loop_misc()``), so the
fleet runs a single epoll/``select()`` loop over all sockets and ticks the devices in between. Callbacks only
queue work; commands are applied by the fleet loop.
"""

from __future__ import annotations

import json
import logging
import selectors
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import protocol
from simulators.devices.base import Device, DeviceError

log = logging.getLogger(__name__)


#: Longest wait between two attempts to reach the broker (the same cap as the edge agent's).
RECONNECT_MAX_S = 3.0

#: ``"platform/resource"`` -> (username, password), the ``agents`` of ``credentials.json``
Credentials = Mapping[str, tuple[str, str]]


class CredentialsError(ValueError):
    """A credentials file that cannot be used; the message names the file and what is wrong."""


def load_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """The agents' accounts from the ``credentials.json`` that ``pilotshare mqtt credentials`` writes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise CredentialsError(f"{path}: not valid JSON ({exc})") from None
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict):
        raise CredentialsError(f"{path}: no 'agents' object (write it with `pilotshare mqtt credentials`)")
    out: dict[str, tuple[str, str]] = {}
    for key, account in agents.items():
        username = account.get("username") if isinstance(account, dict) else None
        password = account.get("password") if isinstance(account, dict) else None
        if not isinstance(username, str) or not isinstance(password, str):
            raise CredentialsError(f"{path}: agents[{key!r}] needs a username and a password")
        out[key] = (username, password)
    return out


def parse_mqtt_url(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp", ""):
        raise ValueError(f"mqtt_url: unsupported scheme {parsed.scheme!r} (use mqtt://host:port)")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883


@dataclass
class DeviceLink:
    """A device, its MQTT client and what is waiting to be published."""

    device: Device
    platform: str
    client: mqtt.Client
    agent: str
    topics: dict[str, str]
    connected: bool = False
    configured: bool = False  # connect() was called once; from then on reconnect() retries
    next_reconnect: float = 0.0
    backoff: float = 1.0
    seq: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    commands: deque[protocol.Command | tuple[str, str]] = field(default_factory=deque)
    # mid -> number of samples in that telemetry message, for counting broker-acknowledged samples
    pending: dict[int, int] = field(default_factory=dict)
    acked_samples: int = 0


class MqttFleetLink:
    """Connections for a fleet of devices, served by :meth:`poll` from the caller's thread."""

    def __init__(
        self,
        devices: list[Device],
        platform: str,
        url: str,
        credentials: Credentials | None = None,
        keepalive: int = 30,
    ) -> None:
        self.host, self.port = parse_mqtt_url(url)
        self.platform = protocol.check_code(platform, "platform")
        self.keepalive = keepalive
        if credentials is not None:
            missing = [d.code for d in devices if f"{self.platform}/{d.code}" not in credentials]
            if missing:
                raise CredentialsError(
                    f"no broker account for {len(missing)} device(s) of {self.platform}, first {missing[:3]}:"
                    " only resources in the registry have one (seed them, then `pilotshare mqtt credentials`)"
                )
        self.credentials = credentials
        self.refused: str | None = None
        self.links = [self._make_link(d) for d in devices]
        self.messages_published = 0
        self.commands_handled = 0
        self._selector: selectors.BaseSelector = selectors.DefaultSelector()
        self._watched: dict[int, DeviceLink] = {}

    # ------------------------------------------------------------------ set-up

    def _make_link(self, device: Device) -> DeviceLink:
        agent = f"sim-{self.platform}-{device.code}"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=agent, clean_session=True
        )
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        topics = {ch.value: protocol.topic(self.platform, device.code, ch) for ch in protocol.Channel}
        if self.credentials is not None:
            client.username_pw_set(*self.credentials[f"{self.platform}/{device.code}"])
        client.will_set(topics["status"], protocol.LAST_WILL, qos=protocol.QOS, retain=True)
        link = DeviceLink(device, self.platform, client, agent, topics)
        client.user_data_set(link)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return link

    def connect_all(self, timeout: float = 20.0) -> None:
        for link in self.links:
            self._try_connect(link)
        deadline = time.monotonic() + timeout
        while not all(link.connected for link in self.links):
            if time.monotonic() > deadline:
                missing = [link.device.code for link in self.links if not link.connected]
                # a refusal is retried until the deadline: a broker may be reloading its accounts
                why = (
                    f"; the broker refused: {self.refused} (--credentials, docs/security.md)"
                    if self.refused
                    else ""
                )
                raise ConnectionError(
                    f"MQTT broker {self.host}:{self.port}: {len(missing)} device(s) not connected "
                    f"after {timeout:.0f} s (first: {missing[:3]}){why}"
                )
            self.poll(0.05)

    def _try_connect(self, link: DeviceLink) -> None:
        try:
            if link.configured:
                link.client.reconnect()
            else:
                link.configured = True
                link.client.connect(self.host, self.port, keepalive=self.keepalive)
        except OSError as exc:
            log.warning("connect %s failed: %s; retry in %.0f s", link.agent, exc, link.backoff)
            link.next_reconnect = time.monotonic() + link.backoff
            link.backoff = min(RECONNECT_MAX_S, link.backoff * 2)

    # ------------------------------------------------------------------ callbacks (queue work only)

    def _on_connect(self, client: mqtt.Client, link: DeviceLink, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("%s: broker refused connection: %s", link.agent, rc)
            self.refused = str(rc)
            return
        link.connected = True
        link.backoff = 1.0
        birth = protocol.StatusOnline(
            agent=link.agent,
            since=protocol.rfc3339(),
            fields={**link.device.describe(), "source": "simulator"},
        )
        client.publish(link.topics["status"], birth.to_json(), qos=protocol.QOS, retain=True)
        # subscriptions are re-made on every connect: clean sessions forget them
        client.subscribe(link.topics["cmd"], qos=protocol.QOS)

    def _on_disconnect(self, client: mqtt.Client, link: DeviceLink, flags: Any, rc: Any, props: Any) -> None:
        link.connected = False
        link.next_reconnect = time.monotonic() + link.backoff
        # pending stays: paho re-sends unacknowledged QoS 1 messages after reconnecting (at least once)

    def _on_message(self, client: mqtt.Client, link: DeviceLink, msg: mqtt.MQTTMessage) -> None:
        try:
            link.commands.append(protocol.parse_payload(protocol.Channel.CMD, msg.payload))
        except protocol.PayloadError as exc:
            try:
                cmd_id = json.loads(msg.payload).get("id")
            except (ValueError, AttributeError):
                cmd_id = None
            if isinstance(cmd_id, str) and cmd_id:
                link.commands.append((cmd_id, str(exc)))
            else:
                log.warning("%s: dropped command without id: %s", link.agent, exc)

    def _on_publish(self, client: mqtt.Client, link: DeviceLink, mid: int, rc: Any, props: Any) -> None:
        link.acked_samples += link.pending.pop(mid, 0)

    # ------------------------------------------------------------------ the loop

    def poll(self, timeout: float) -> None:
        """Serve the network for up to ``timeout`` seconds (one epoll/select wait)."""
        now = time.monotonic()
        current: dict[int, DeviceLink] = {}
        for link in self.links:
            sock = link.client.socket()
            if sock is None:
                if link.configured and now >= link.next_reconnect:
                    self._try_connect(link)
                continue
            current[sock.fileno()] = link
            if link.client.want_write():
                link.client.loop_write()
        if not current:
            time.sleep(max(0.0, timeout))
            return
        self._watch(current)
        for key, _ in self._selector.select(max(0.0, timeout)):
            ready = current.get(int(key.fd))
            if ready is not None:
                ready.client.loop_read(max_packets=50)

    def _watch(self, current: dict[int, DeviceLink]) -> None:
        # selectors (epoll on Linux) instead of select(): no 1024-descriptor ceiling for big fleets.
        # Sockets change only on (re)connect, so the registration is rebuilt only then.
        if current.keys() == self._watched.keys() and all(
            self._watched[fd] is lk for fd, lk in current.items()
        ):
            return
        self._selector.close()
        self._selector = selectors.DefaultSelector()
        for fd in current:
            self._selector.register(fd, selectors.EVENT_READ)
        self._watched = dict(current)

    def misc(self) -> None:
        """Keep-alive pings and dead-connection detection; call about once a second."""
        for link in self.links:
            if link.client.socket() is not None:
                link.client.loop_misc()

    def handle_commands(self) -> None:
        for link in self.links:
            while link.commands:
                cmd = link.commands.popleft()
                if isinstance(cmd, tuple):
                    ack = protocol.CommandAck(id=cmd[0], ok=False, error=cmd[1])
                elif (refusal := cmd.refusal(time.time_ns())) is not None:
                    ack = protocol.CommandAck(id=cmd.id, ok=False, error=refusal)
                else:
                    try:
                        link.device.handle_command(cmd.action, cmd.args)
                        ack = protocol.CommandAck(id=cmd.id, ok=True, error=None)
                    except DeviceError as exc:
                        ack = protocol.CommandAck(id=cmd.id, ok=False, error=str(exc))
                self.commands_handled += 1
                link.client.publish(link.topics["cmd/ack"], ack.to_json(), qos=protocol.QOS)

    def sample_all(self, ts_ns: int) -> None:
        """Take one sample of every device, and collect its events, stamped with the tick time.

        Devices keep their own simulated clock (which runs faster with ``speed``); on the wire everything
        carries the tick's wall-clock time so telemetry and events line up.
        """
        for link in self.links:
            link.samples.append({"ts": ts_ns, "fields": link.device.read()})
            for event in link.device.drain_events():
                event["ts"] = ts_ns
                link.events.append(event)

    def flush(self) -> int:
        """Publish buffered samples (one telemetry message per device) and events; returns samples sent."""
        sent = 0
        for link in self.links:
            if link.connected:
                for event in link.events:
                    link.client.publish(link.topics["event"], json.dumps(event), qos=protocol.QOS)
                    self.messages_published += 1
                link.events = []
            if not link.samples or not link.connected:
                continue  # while disconnected samples stay buffered (bounded below)
            body = json.dumps(
                {"agent": link.agent, "seq": link.seq, "samples": link.samples}, separators=(",", ":")
            )
            info = link.client.publish(link.topics["telemetry"], body, qos=protocol.QOS)
            link.pending[info.mid] = len(link.samples)
            link.seq += 1
            sent += len(link.samples)
            link.samples = []
            self.messages_published += 1
        for link in self.links:
            if len(link.samples) > protocol.MAX_SAMPLES_PER_MESSAGE:
                del link.samples[: len(link.samples) - protocol.MAX_SAMPLES_PER_MESSAGE]
            del link.events[:-1000]
        return sent

    def acked_samples(self) -> int:
        return sum(link.acked_samples for link in self.links)

    def inflight(self) -> int:
        return sum(len(link.pending) for link in self.links)

    def close(self, drain_timeout: float = 5.0) -> None:
        """Say goodbye like a good agent: retained offline status, wait for acks, disconnect."""
        for link in self.links:
            if link.connected:
                info = link.client.publish(
                    link.topics["status"], protocol.LAST_WILL, qos=protocol.QOS, retain=True
                )
                link.pending[info.mid] = 0
        deadline = time.monotonic() + drain_timeout
        while time.monotonic() < deadline and any(
            link.connected and (link.pending or link.client.want_write()) for link in self.links
        ):
            self.poll(0.05)
        for link in self.links:
            if link.client.socket() is not None:
                link.client.disconnect()
                link.client.loop_write()
        self._selector.close()
