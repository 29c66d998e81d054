"""TLS for the demo broker as docs/security.md describes it: scripts/broker-tls.sh, then an edge agent that
trusts the CA publishes over mqtts://, and a client that does not trust it gets nowhere."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import protocol
from edge_agent.agent import Agent
from edge_agent.settings import parse_settings
from tests.support.mosquitto import MosquittoBroker, _binary, free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
AGENT = "jinan-bio/TF-1"


@pytest.fixture
def tls_broker(tmp_path: Path) -> MosquittoBroker:
    binary = _binary()
    if binary is None:
        pytest.skip("mosquitto binary not found")
    port = free_port()
    subprocess.run(
        ["bash", str(REPO / "scripts" / "broker-tls.sh"), str(tmp_path / "tls"), f"127.0.0.1:{port}"],
        check=True,
        capture_output=True,
    )
    (tmp_path / "broker").mkdir()
    listener = tmp_path / "tls" / "listener.conf"
    # the agent's account exists from the start: reloading is checked with plain clients, not here
    return MosquittoBroker(binary, tmp_path / "broker", port=port, agents=[AGENT], listener=listener)


def subscriber(broker: MosquittoBroker, ca: Path | None) -> tuple[mqtt.Client, list[bytes], list[str]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tls-ingest")
    client.username_pw_set(*broker.login("ingest"))
    received: list[bytes] = []
    failures: list[str] = []
    client.tls_set(ca_certs=str(ca) if ca else None, cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = lambda c, u, f, reason, p: c.subscribe(f"{protocol.TOPIC_ROOT}/#", qos=1)
    client.on_message = lambda c, u, msg: received.append(bytes(msg.payload))
    try:
        client.connect(broker.host, broker.port)
    except (ssl.SSLError, OSError) as exc:
        failures.append(str(exc))
    return client, received, failures


async def test_an_agent_trusting_the_demo_ca_publishes_over_tls(
    tls_broker: MosquittoBroker, tmp_path: Path
) -> None:
    ca = tmp_path / "tls" / "ca.crt"
    tls_broker.start()
    try:
        assert not tls_broker.can_connect(*tls_broker.login("ingest")), "plain MQTT reached the TLS listener"
        _, _, failures = subscriber(tls_broker, None)  # the system's CAs do not know the demo CA
        assert failures and "certificate verify failed" in failures[0]

        client, received, failures = subscriber(tls_broker, ca)
        assert not failures
        client.loop_start()
        username, password = tls_broker.login(AGENT)
        settings = parse_settings(
            {
                "agent_id": "tls-agent",
                "platform": "jinan-bio",
                "resource": "TF-1",
                "mqtt": {
                    "url": f"mqtts://localhost:{tls_broker.port}",
                    "username": username,
                    "password": password,
                    "tls": {"ca_file": str(ca)},
                },
                "device": {"driver": "sim", "sim": {"device_type": "furnace", "code": "TF-1"}},
                "sampling": {"hz": 10, "batch_interval_s": 0.2},
                "buffer": {"dir": str(tmp_path / "buffer")},
            }
        )
        agent, stop = Agent(settings), asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await asyncio.to_thread(
                eventually, lambda: any(b'"samples"' in m for m in received), 20, "telemetry over TLS"
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            client.disconnect()
            client.loop_stop()
    finally:
        tls_broker.stop()


def test_ingest_and_the_command_dispatcher_trust_the_ca_they_are_given(
    tls_broker: MosquittoBroker, tmp_path: Path
) -> None:
    """PILOTSHARE_MQTT_CA_FILE: the backend's own clients reach the demo's TLS listener (connected, and for
    ingest every subscription granted) with their accounts."""
    from backend.adapters.influx import InfluxClient, InfluxWriter
    from backend.db import make_engine
    from backend.dispatcher import Dispatcher
    from backend.ingest.service import Ingest
    from backend.migrations import upgrade
    from backend.settings import Settings

    url = f"sqlite:///{tmp_path}/ps.db"
    upgrade(url)
    engine = make_engine(Settings(database_url=url))
    ca = tmp_path / "tls" / "ca.crt"
    broker_url = f"mqtts://localhost:{tls_broker.port}"
    tls_broker.start()
    influx = InfluxClient("http://127.0.0.1:9", "unused")
    ingest = Ingest(broker_url, engine, InfluxWriter(influx), login=tls_broker.login("ingest"), ca_file=ca)
    dispatcher = Dispatcher(broker_url, engine, login=tls_broker.login("backend"), ca_file=ca)
    try:
        ingest.start()
        dispatcher.start()
        assert ingest.wait_connected(20), "ingest did not subscribe over TLS"
        assert dispatcher.wait_connected(20), "the dispatcher did not connect over TLS"
    finally:
        ingest.stop()
        dispatcher.stop()
        influx.close()
        engine.dispose()
        tls_broker.stop()
