"""A real Mosquitto broker per test (or per module), on a free port, for integration tests.

Use it by importing the fixtures by name into a conftest.py (or a test module)::

    # tests/integration/<area>/conftest.py
    from tests.support.mosquitto import mosquitto  # noqa: F401

(``pytest_plugins = ["tests.support.mosquitto"]`` works too, but only in the rootdir conftest.py.)

    @pytest.mark.integration
    def test_x(mosquitto: MosquittoBroker) -> None:
        agent = mosquitto.client("jinan-bio/F5-1")     # logged in as that resource's agent
        ingest_url = mosquitto.url_as("ingest")        # "mqtt://pilotshare-ingest:...@127.0.0.1:PORT"

Fixtures: ``mosquitto`` (a :class:`MosquittoBroker` with ``url``, ``host``, ``port``, ``login(who)``,
``url_as(who)``, ``client(who)``, ``revoke``/``rotate``, ``stop()``, ``restart()`` — the same port, to test
reconnects — and ``crash()``), function-scoped; ``mosquitto_module`` is module-scoped for suites that can
share one broker.

The broker runs as every shipped broker does: authentication and ACL on, anonymous clients refused, the
durability settings of ``backend.domain.broker`` — from the files ``pilotshare mqtt credentials`` writes,
in its own temporary folder with its persistence dir and log. The binary is ``/usr/sbin/mosquitto`` or
``$MOSQUITTO_BIN``. Tests are skipped (not failed) when no mosquitto binary exists.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.adapters import broker_files
from backend.domain import broker
from edge_agent import protocol
from tests.support.processes import stop_process
from tests.support.waiting import eventually as wait_for

T = TypeVar("T")


def _binary() -> str | None:
    env = os.environ.get("MOSQUITTO_BIN")
    if env:
        return env
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mosquitto")


def authorized_command(
    cmd_id: str, action: str, args: dict[str, Any] | None = None, booking: int = 1, valid_s: float = 60
) -> bytes:
    """A command as the backend sends it: on behalf of a booking, valid for ``valid_s`` seconds."""
    return protocol.Command.model_validate(
        {
            "id": cmd_id,
            "action": action,
            "args": args or {},
            "on_behalf_of": {"booking": booking},
            "expires": protocol.rfc3339(time.time_ns() + int(valid_s * 1e9)),
        }
    ).to_json()


def _pairs(keys: Iterable[str]) -> list[tuple[str, str]]:
    pairs = []
    for key in keys:
        platform, _, resource = key.partition("/")
        pairs.append((platform, resource))
    return pairs


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class MosquittoBroker:
    """A broker with authentication on: the files ``pilotshare mqtt credentials`` would write, in ``workdir``.

    ``login(who)`` gives the username and password of ``"ingest"``, ``"backend"`` or an agent
    ``"platform/resource"``; an agent the broker does not know yet gets an account first (the files are
    rewritten and the broker reloads them with SIGHUP, as an operator would). ``revoke`` and ``rotate`` do
    the same for one agent.
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        agents: Iterable[str] = (),
        listener: Path | None = None,
    ) -> None:
        self.binary = binary
        #: a listener block to use instead of the plain one, e.g. the listener.conf of scripts/broker-tls.sh
        self.listener = listener
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "mosquitto.log"
        self.broker_dir = workdir / "broker"
        self.accounts = broker.issue(_pairs(agents))
        #: the files come from elsewhere (``pilotshare mqtt credentials``): use them as they are
        self.given_files = False

    @property
    def url(self) -> str:
        """The broker's address, without credentials: a client using it as is is refused."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def credentials_path(self) -> Path:
        return self.broker_dir / broker.CREDENTIALS_FILE

    def login(self, who: str) -> tuple[str, str]:
        if who == broker.INGEST:
            account = self.accounts.ingest
        elif who == broker.BACKEND:
            account = self.accounts.backend
        else:
            if who not in self.accounts.agents:
                self._reissue([*self.accounts.agents, who])
            account = self.accounts.agents[who]
        return account.username, account.password

    def login_for(self, topic: str) -> tuple[str, str]:
        """The login of the agent that owns this ``pilotshare/v1/{platform}/{resource}/...`` topic."""
        parts = protocol.parse_topic(topic)
        return self.login(broker.agent_key(parts.platform, parts.resource))

    def url_as(self, who: str) -> str:
        """``mqtt://user:password@host:port`` for ``who`` (see :meth:`login`)."""
        username, password = self.login(who)
        return f"mqtt://{quote(username, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"

    def add_agents(self, keys: Iterable[str]) -> None:
        """Accounts for these ``platform/resource`` agents, with one reload for them all."""
        missing = [k for k in keys if k not in self.accounts.agents]
        if missing:
            self._reissue([*self.accounts.agents, *missing])

    def fleet_credentials(self, platform: str, codes: Iterable[str]) -> dict[str, tuple[str, str]]:
        """What a simulated fleet of these devices logs in with (as read from credentials.json)."""
        keys = [broker.agent_key(platform, code) for code in codes]
        self.add_agents(keys)
        return {k: (self.accounts.agents[k].username, self.accounts.agents[k].password) for k in keys}

    def revoke(self, who: str) -> None:
        self._reissue([k for k in self.accounts.agents if k != who])

    def rotate(self, who: str) -> None:
        self._reissue(list(self.accounts.agents), rotate=[who])

    def _reissue(self, agents: list[str], rotate: list[str] | None = None) -> None:
        before = self.accounts
        self.accounts = broker.issue(_pairs(agents), before, rotate or [])
        if self.proc is None:
            return
        self._write_files()
        self.proc.send_signal(signal.SIGHUP)
        self._wait_applied(before)

    def _wait_applied(self, before: broker.BrokerAccounts) -> None:
        # the reload is in force once every changed account logs in and every dropped one is refused
        new = [a for k, a in self.accounts.agents.items() if before.agents.get(k) != a]
        gone = [a for k, a in before.agents.items() if self.accounts.agents.get(k) != a]

        def settled() -> bool:
            return all(self.can_connect(a.username, a.password) for a in new) and not any(
                self.can_connect(a.username, a.password) for a in gone
            )

        wait_for(settled, 10, "mosquitto to apply its reloaded accounts")

    def can_connect(self, username: str | None, password: str | None) -> bool:
        """Whether the broker accepts a connection with these credentials (None: anonymous)."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        if username is not None:
            client.username_pw_set(username, password)
        answer: list[bool] = []
        client.on_connect = lambda c, u, f, reason, p: answer.append(not reason.is_failure)
        try:
            client.connect(self.host, self.port, keepalive=10)
        except OSError:
            return False
        deadline = time.monotonic() + 5
        while not answer and time.monotonic() < deadline and client.loop(0.05) == mqtt.MQTT_ERR_SUCCESS:
            pass
        client.disconnect()
        return bool(answer and answer[0])

    def client(self, who: str | None, client_id: str | None = None) -> BrokerClient:
        """A connected client logged in as ``who`` (None: anonymous, which must fail)."""
        return BrokerClient(self, who, client_id)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def use_files(self, directory: Path) -> None:
        """Run from the files ``pilotshare mqtt credentials --out directory`` wrote (read again on reload)."""
        self.broker_dir = directory
        self.given_files = True
        self.reload_files()

    def reload_files(self) -> None:
        """Take up what ``pilotshare mqtt credentials`` wrote again: SIGHUP, as an operator would."""
        accounts = broker_files.read_accounts(self.broker_dir / broker.CREDENTIALS_FILE)
        assert accounts is not None, f"no credentials.json in {self.broker_dir}"
        before, self.accounts = self.accounts, accounts
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)
            self._wait_applied(before)

    def _write_files(self) -> None:
        if not self.given_files:
            broker_files.write_files(self.broker_dir, self.accounts)

    def _write_config(self) -> Path:
        self._write_files()
        conf = self.workdir / "mosquitto.conf"
        plain = f"listener {self.port} {self.host}"
        conf.write_text(
            "\n".join(
                [
                    self.listener.read_text() if self.listener else plain,
                    f"log_dest file {self.log_path}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    # Started as root, Mosquitto drops to the 'mosquitto' user, which cannot write this
                    # temporary folder: persistence (sessions kept across .restart()) would silently fail.
                    f"user {getpass.getuser()}",
                    # the one configuration every shipped broker runs with: accounts, ACL, durability
                    f"include_dir {self.broker_dir}",
                    "",
                ]
            )
        )
        return conf

    def start(self, timeout: float = 10.0) -> None:
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err} {self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, timeout=5)
        self._forget_process()

    def restart(self) -> None:
        self.stop()
        self.start()

    def crash(self) -> None:
        """SIGKILL: the broker keeps only what its last autosave wrote."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(timeout=5)
        self._forget_process()

    def _forget_process(self) -> None:
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None


class BrokerClient:
    """A QoS 1 client for broker tests: every call waits for the broker's answer (CONNACK, SUBACK, PUBACK)."""

    def __init__(self, broker_: MosquittoBroker, who: str | None, client_id: str | None = None) -> None:
        self.who = who
        self.messages: list[mqtt.MQTTMessage] = []
        self.refused: str | None = None
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self._subacks: dict[int, list[Any]] = {}
        self._pubacks: set[int] = set()
        # the broker's answers wake the waiting call at once: polling them cost 0.1 s a publish
        self._answered = threading.Condition()
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{uuid.uuid4().hex[:8]}"
        )
        if who is not None:
            self.paho.username_pw_set(*broker_.login(who))
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = lambda c, u, f, reason, p: self.disconnected.set()
        self.paho.on_message = self._on_message
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_publish = self._on_publish
        self.paho.connect(broker_.host, broker_.port, keepalive=10)
        self.paho.loop_start()
        self._await(lambda: self.connected.is_set() or self.refused, f"CONNACK for {who}")

    def _await(self, answer: Callable[[], T], what: str, timeout: float = 10) -> T:
        with self._answered:
            found = self._answered.wait_for(answer, timeout)
        assert found, f"timed out waiting for {what}"
        return found

    def _on_connect(self, c: Any, u: Any, f: Any, reason: Any, p: Any) -> None:
        with self._answered:
            if reason.is_failure:
                self.refused = str(reason)
            else:
                self.connected.set()
            self._answered.notify_all()

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._answered:
            self.messages.append(msg)

    def _on_subscribe(self, c: Any, u: Any, mid: int, reasons: list[Any], p: Any) -> None:
        with self._answered:
            self._subacks[mid] = reasons
            self._answered.notify_all()

    def _on_publish(self, c: Any, u: Any, mid: int, reason: Any, p: Any) -> None:
        with self._answered:
            self._pubacks.add(mid)
            self._answered.notify_all()

    def subscribe(self, topic: str) -> bool:
        """Subscribe at QoS 1; True when the broker granted it."""
        _, mid = self.paho.subscribe(topic, qos=1)
        reasons = self._await(lambda: self._subacks.get(mid), f"SUBACK for {topic}")
        return not reasons[0].is_failure

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the PUBACK (a broker acknowledges denied publishes too)."""
        info = self.paho.publish(topic, payload, qos=1, retain=retain)
        self._await(lambda: info.mid in self._pubacks, f"PUBACK for {topic}")

    def received(self, topic: str | None = None) -> list[bytes]:
        with self._answered:
            return [bytes(m.payload) for m in self.messages if topic is None or m.topic == topic]

    def topics(self) -> list[str]:
        with self._answered:
            return [m.topic for m in self.messages]

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def _broker() -> Iterator[MosquittoBroker]:
    binary = _binary()
    if binary is None:
        pytest.skip("mosquitto binary not found (set MOSQUITTO_BIN)")
    with tempfile.TemporaryDirectory(prefix="mosquitto-") as tmp:
        broker = MosquittoBroker(binary, Path(tmp))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    yield from _broker()


@pytest.fixture(scope="module")
def mosquitto_module() -> Iterator[MosquittoBroker]:
    yield from _broker()
