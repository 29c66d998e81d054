"""The broker enforces who may do what, on a real Mosquitto started from the generated files.

A denied publish is acknowledged and then dropped by Mosquitto, so "nothing reached X" is shown by order:
the forbidden message goes first, an allowed one from the same client after it, and once the allowed one
has arrived the forbidden one would have too.
"""

from __future__ import annotations

import pytest

from edge_agent import protocol
from tests.support.mosquitto import BrokerClient, MosquittoBroker
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

A, B = "p1/A-1", "p2/B-1"


def topic(agent: str, channel: str) -> str:
    platform, resource = agent.split("/")
    return protocol.topic(platform, resource, channel)


def arrived(client: BrokerClient, topic_name: str, payload: bytes) -> bool:
    return payload in client.received(topic_name)


def test_anonymous_and_wrong_passwords_are_refused(mosquitto: MosquittoBroker) -> None:
    assert not mosquitto.can_connect(None, None)
    username, _ = mosquitto.login(A)
    assert not mosquitto.can_connect(username, "not-the-password")
    assert mosquitto.can_connect(*mosquitto.login(A))
    assert mosquitto.client(None).refused


def test_an_agent_publishes_only_under_its_own_resource(mosquitto: MosquittoBroker) -> None:
    ingest = mosquitto.client("ingest")
    assert ingest.subscribe(f"{protocol.TOPIC_ROOT}/#")
    a = mosquitto.client(A)
    mosquitto.login(B)
    for channel in ("telemetry", "status", "event", "cmd/ack", "cmd"):
        a.publish(topic(B, channel), b"forged", retain=channel == "status")
    a.publish(topic(A, "telemetry"), b"own")
    eventually(lambda: arrived(ingest, topic(A, "telemetry"), b"own"), 10, "A's own telemetry at ingest")
    assert b"forged" not in ingest.received()
    # nor is a forged retained status kept for later subscribers
    late = mosquitto.client("ingest")
    late.subscribe(topic(B, "status"))
    a.publish(topic(A, "status"), b"own status", retain=True)
    late.subscribe(topic(A, "status"))
    eventually(lambda: late.received(topic(A, "status")), 10, "A's retained status")
    assert late.received(topic(B, "status")) == []


def test_an_agent_reads_only_its_own_commands_and_only_the_backend_sends_them(
    mosquitto: MosquittoBroker,
) -> None:
    a, b = mosquitto.client(A), mosquitto.client(B)
    assert a.subscribe(topic(A, "cmd"))
    # Mosquitto grants these subscriptions and then delivers nothing the ACL does not let A read
    a.subscribe(topic(B, "cmd"))
    a.subscribe(f"{protocol.TOPIC_ROOT}/#")
    assert b.subscribe(topic(B, "cmd"))

    # strangers: another agent, ingest
    b.publish(topic(A, "cmd"), b'{"id": "from-b"}')
    mosquitto.client("ingest").publish(topic(A, "cmd"), b'{"id": "from-ingest"}')
    backend = mosquitto.client("backend")
    backend.publish(topic(B, "cmd"), b'{"id": "for-b"}')
    backend.publish(topic(A, "cmd"), b'{"id": "for-a"}')
    eventually(lambda: arrived(a, topic(A, "cmd"), b'{"id": "for-a"}'), 10, "the backend's command at A")
    eventually(lambda: arrived(b, topic(B, "cmd"), b'{"id": "for-b"}'), 10, "the backend's command at B")
    assert set(a.received()) == {b'{"id": "for-a"}'}
    # the backend may not pose as an agent either
    backend.publish(topic(A, "telemetry"), b"forged by backend")
    backend.publish(topic(A, "cmd"), b'{"id": "last"}')
    eventually(lambda: arrived(a, topic(A, "cmd"), b'{"id": "last"}'), 10, "the last command at A")


def test_ingest_reads_everything_through_its_shared_subscription(mosquitto: MosquittoBroker) -> None:
    ingest = mosquitto.client("ingest")
    assert ingest.subscribe(f"$share/pilotshare-ingest/{protocol.TOPIC_ROOT}/+/+/telemetry")
    assert ingest.subscribe("$SYS/broker/publish/messages/dropped")
    mosquitto.client(A).publish(topic(A, "telemetry"), b"a")
    mosquitto.client(B).publish(topic(B, "telemetry"), b"b")
    eventually(lambda: ingest.received(topic(B, "telemetry")), 10, "B's telemetry at ingest")
    assert ingest.received(topic(A, "telemetry")) == [b"a"]
    dropped = "$SYS/broker/publish/messages/dropped"
    eventually(lambda: ingest.received(dropped), 15, "the broker's drop counter")
    # ingest writes nothing
    ingest.publish(topic(A, "telemetry"), b"from ingest")
    mosquitto.client(A).publish(topic(A, "telemetry"), b"a2")
    eventually(lambda: arrived(ingest, topic(A, "telemetry"), b"a2"), 10, "A's second message")
    assert b"from ingest" not in ingest.received()


def test_revoking_one_agent_leaves_the_others_running(mosquitto: MosquittoBroker) -> None:
    ingest = mosquitto.client("ingest")
    ingest.subscribe(f"{protocol.TOPIC_ROOT}/#")
    a, b = mosquitto.client(A), mosquitto.client(B)
    old_a = mosquitto.login(A)

    mosquitto.revoke(A)
    eventually(a.disconnected.is_set, 10, "the broker to drop the revoked agent's connection")
    assert not mosquitto.can_connect(*old_a)
    assert not b.disconnected.is_set()
    b.publish(topic(B, "telemetry"), b"still here")
    eventually(lambda: arrived(ingest, topic(B, "telemetry"), b"still here"), 10, "B after A's revocation")


def test_rotating_one_agent_changes_only_its_password(mosquitto: MosquittoBroker) -> None:
    old_a, old_b = mosquitto.login(A), mosquitto.login(B)
    b = mosquitto.client(B)
    mosquitto.rotate(A)
    assert mosquitto.login(B) == old_b and mosquitto.login(A) != old_a
    assert not mosquitto.can_connect(*old_a)
    assert mosquitto.can_connect(*mosquitto.login(A))
    assert not b.disconnected.is_set()
