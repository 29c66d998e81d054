"""`pilotshare ingest` end to end: contract payloads on a real Mosquitto land in a real InfluxDB and in
the twin; the twin, telemetry, alarm and stream APIs show them to the right people."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from backend.db import make_engine, unit_of_work
from backend.ingest.service import Ingest
from backend.main import create_app
from backend.models.booking import Booking
from backend.models.twin import Twin
from backend.settings import Settings
from edge_agent.protocol import LAST_WILL, event_topic, rfc3339, status_topic, telemetry_topic
from tests.support.influxdb import InfluxServer
from tests.support.ingest import IngestSite
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
PLATFORM = "jinan-bio"


@dataclass
class Stack:
    settings: Settings
    ingest: Ingest
    influx: InfluxServer
    broker: MosquittoBroker
    client: TestClient
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def publish(self, topic: str, payload: bytes | dict[str, Any], retain: bool = False) -> None:
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:6]}")
        pub.username_pw_set(*self.broker.login_for(topic))
        pub.connect(self.broker.host, self.broker.port)
        pub.loop_start()
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        pub.publish(topic, body, qos=1, retain=retain).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()

    def points(self, resource: str, field_name: str) -> list[list[Any]]:
        series = self.influx.query(
            f"SELECT \"{field_name}\" FROM telemetry WHERE resource='{resource}'", self.settings.influx_db
        )
        return series[0]["values"] if series else []

    def twin(self, resource: str, role: str = "admin") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/resources/{self.ids[resource]}/twin", headers=self.headers[role])
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def stack(ingest_site: IngestSite) -> Iterator[Stack]:
    site = ingest_site
    with TestClient(create_app(site.settings)) as client:
        s = Stack(site.settings, site.ingest, site.influx, site.broker, client)
        s.headers = {**site.headers(client, ("admin", "operator", "sme", "auditor")), "anonymous": {}}
        resources = client.get(
            "/api/v1/resources?platform=jinan-bio&limit=100", headers=s.headers["admin"]
        ).json()
        s.ids.update({r["code"]: r["id"] for r in resources["data"]})
        s.ids["sme_org"] = client.get("/api/v1/me", headers=s.headers["sme"]).json()["organization_id"]
        s.ids["sme_user"] = client.get("/api/v1/me", headers=s.headers["sme"]).json()["id"]
        s.ids["platform"] = resources["data"][0]["platform_id"]
        yield s


def _telemetry(seq: int, ts: datetime, **fields: Any) -> dict[str, Any]:
    return {"agent": "test-agent", "seq": seq, "samples": [{"ts": ts.isoformat(), "fields": fields}]}


def test_telemetry_lands_in_influxdb_and_in_the_twin_and_duplicates_do_not(stack: Stack) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    message = {
        "agent": "a1",
        "seq": 1,
        "samples": [
            {"ts": (t0 + timedelta(seconds=i)).isoformat(), "fields": {"temp_c": 30 + i, "stirring": True}}
            for i in range(20)
        ],
    }
    stack.publish(telemetry_topic(PLATFORM, "F5-1"), message)
    stack.publish(telemetry_topic(PLATFORM, "F5-1"), message)  # redelivered: same points
    eventually(lambda: len(stack.points("F5-1", "temp_c")) == 20, what="20 points")
    twin = eventually(lambda: stack.twin("F5-1")["reported"].get("temp_c"), what="temp_c in the twin")
    assert twin["value"] == 49
    assert datetime.fromisoformat(twin["ts"]) == t0 + timedelta(seconds=19)
    time.sleep(0.5)
    assert len(stack.points("F5-1", "temp_c")) == 20
    assert stack.points("F5-1", "temp_c")[0][1] == 30.0


def test_a_bad_payload_is_skipped_and_the_good_ones_around_it_are_stored(stack: Stack) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    topic = telemetry_topic(PLATFORM, "F50-1")
    stack.publish(topic, _telemetry(1, t0, ph=7.0))
    stack.publish(topic, b"{not json")
    stack.publish(topic, {"agent": "x", "seq": 2, "samples": [{"ts": "yesterday", "fields": {"ph": 1}}]})
    stack.publish(telemetry_topic(PLATFORM, "NO-SUCH-RESOURCE"), _telemetry(1, t0, ph=1.0))
    stack.publish(topic, _telemetry(3, t0 + timedelta(seconds=1), ph=7.2))
    eventually(lambda: len(stack.points("F50-1", "ph")) == 2, what="both good samples")
    eventually(lambda: stack.ingest.stats.bad_payloads >= 2, what="bad payloads counted")
    assert stack.ingest.stats.unknown_resources[f"{PLATFORM}/NO-SUCH-RESOURCE"] >= 1
    assert stack.twin("F50-1")["reported"]["ph"]["value"] == 7.2


def test_birth_and_last_will_flip_the_connection(stack: Stack) -> None:
    topic = status_topic(PLATFORM, "HPLC-1")
    agent = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hplc-agent")
    agent.will_set(topic, LAST_WILL, qos=1, retain=True)
    agent.username_pw_set(*stack.broker.login_for(topic))
    agent.connect(stack.broker.host, stack.broker.port)
    agent.loop_start()
    since = rfc3339()
    birth = {"state": "online", "agent": "hplc-agent", "since": since, "fields": {"firmware": "1.2"}}
    agent.publish(topic, json.dumps(birth), qos=1, retain=True).wait_for_publish(5)
    online = eventually(
        lambda: stack.twin("HPLC-1")["connection"]["state"] == "online" and stack.twin("HPLC-1")
    )
    assert online["reported"]["firmware"]["value"] == "1.2"
    version = online["version"]
    agent.loop_stop()
    sock = agent.socket()
    assert sock is not None
    sock.close()  # dies without DISCONNECT: the broker publishes the Last Will
    offline = eventually(
        lambda: stack.twin("HPLC-1")["connection"]["state"] == "offline" and stack.twin("HPLC-1"),
        what="offline",
    )
    assert offline["version"] > version
    assert offline["connection"]["since"] is not None


def test_alarm_events_are_stored_once(stack: Stack) -> None:
    ts = rfc3339()
    alarm = {"ts": ts, "kind": "alarm", "code": "TEMP_HIGH", "severity": "critical", "message": "42 °C"}
    stack.publish(event_topic(PLATFORM, "F5-1"), alarm)
    stack.publish(event_topic(PLATFORM, "F5-1"), alarm)
    stack.publish(event_topic(PLATFORM, "F5-1"), {**alarm, "kind": "state", "code": "RUNNING"})
    url = f"/api/v1/alarms?resource_id={stack.ids['F5-1']}"
    body = eventually(
        lambda: (r := stack.client.get(url, headers=stack.headers["operator"]).json())["count"] >= 1 and r,
        what="the alarm",
    )
    time.sleep(0.5)
    body = stack.client.get(url, headers=stack.headers["auditor"]).json()
    assert body["count"] == 1
    assert body["data"][0]["code"] == "TEMP_HIGH"
    assert body["data"][0]["severity"] == "critical"
    assert stack.client.get(url, headers=stack.headers["sme"]).status_code == 403


def test_twin_access_by_role_and_desired_gives_a_delta(stack: Stack) -> None:
    rid = stack.ids["F5-1"]
    for role, expected in {
        "admin": 200,
        "operator": 200,
        "auditor": 200,
        "sme": 403,
        "anonymous": 401,
    }.items():
        got = stack.client.get(f"/api/v1/resources/{rid}/twin", headers=stack.headers[role]).status_code
        assert got == expected, role
    url = f"/api/v1/resources/{rid}/twin/desired"
    assert (
        stack.client.patch(url, json={"desired": {"temp_c": 37}}, headers=stack.headers["sme"]).status_code
        == 403
    )
    assert (
        stack.client.patch(
            url, json={"desired": {"temp_c": 37}}, headers=stack.headers["auditor"]
        ).status_code
        == 403
    )
    bad = stack.client.patch(url, json={"desired": {"temp_c": [1]}}, headers=stack.headers["operator"])
    assert bad.status_code == 422 and "desired.temp_c" in bad.json()["detail"]
    too_many = {"desired": {f"f{i}": i for i in range(201)}}
    assert stack.client.patch(url, json=too_many, headers=stack.headers["operator"]).status_code == 422
    before = stack.twin("F5-1")["version"]
    ok = stack.client.patch(
        url, json={"desired": {"temp_c": 37, "stirring": True}}, headers=stack.headers["operator"]
    )
    assert ok.status_code == 200, ok.text
    twin = ok.json()
    assert twin["version"] == before + 1
    assert twin["delta"] == {"temp_c": 37}  # stirring already reported true
    assert (
        stack.client.get("/api/v1/resources/999999/twin", headers=stack.headers["admin"]).status_code == 404
    )


def _book(stack: Stack, resource: str, start: datetime, end: datetime) -> None:
    with unit_of_work(make_engine(stack.settings)) as session:
        session.add(
            Booking(
                platform_id=stack.ids["platform"],
                resource_id=stack.ids[resource],
                status="approved",
                organization_id=stack.ids["sme_org"],
                user_id=stack.ids["sme_user"],
                starts_at=start,
                ends_at=end,
                purpose="ingest test run",
            )
        )


def test_telemetry_api_and_sme_access_only_within_its_bookings(stack: Stack) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    topic = telemetry_topic(PLATFORM, "F50-2")
    samples = [
        {"ts": (now - timedelta(minutes=60 - i)).isoformat(), "fields": {"do_pct": float(i)}}
        for i in range(60)
    ]
    stack.publish(topic, {"agent": "a", "seq": 1, "samples": samples})
    eventually(lambda: len(stack.points("F50-2", "do_pct")) == 60, what="60 points")
    rid = stack.ids["F50-2"]
    base = f"/api/v1/resources/{rid}/telemetry"
    window = {"from": (now - timedelta(minutes=61)).isoformat(), "to": now.isoformat()}

    raw = stack.client.get(base, params={"field": "do_pct", **window}, headers=stack.headers["auditor"])
    assert raw.status_code == 200, raw.text
    assert len(raw.json()["points"]) == 60
    means = stack.client.get(
        base, params={"field": "do_pct", "every": "10m", **window}, headers=stack.headers["operator"]
    )
    assert means.status_code == 200, means.text
    assert 6 <= len(means.json()["points"]) <= 7
    for params, name in (
        ({"field": "do_pct", "every": "ten"}, "every"),
        ({"field": "do_pct", "from": "x"}, "from"),
    ):
        bad = stack.client.get(base, params=params, headers=stack.headers["admin"])
        assert bad.status_code == 422 and name in bad.text, bad.text
    assert (
        stack.client.get(
            base,
            params={"field": "do_pct", "from": window["to"], "to": window["from"]},
            headers=stack.headers["admin"],
        ).status_code
        == 422
    )

    # No booking yet: the SME is refused, here and on the twin.
    assert (
        stack.client.get(base, params={"field": "do_pct", **window}, headers=stack.headers["sme"]).status_code
        == 403
    )
    # A booking that covers the last 20 minutes (and goes on): only those samples, and the twin opens.
    _book(stack, "F50-2", now - timedelta(minutes=20), now + timedelta(hours=1))
    mine = stack.client.get(base, params={"field": "do_pct", **window}, headers=stack.headers["sme"])
    assert mine.status_code == 200, mine.text
    times = [datetime.fromisoformat(p["time"]) for p in mine.json()["points"]]
    assert len(times) == 20 and min(times) >= now - timedelta(minutes=20)
    earlier = {
        "field": "do_pct",
        "from": (now - timedelta(minutes=61)).isoformat(),
        "to": (now - timedelta(minutes=30)).isoformat(),
    }
    assert stack.client.get(base, params=earlier, headers=stack.headers["sme"]).status_code == 403
    assert stack.twin("F50-2", role="sme")["reported"]["do_pct"]["value"] == 59.0


def test_the_stream_sends_twin_changes(stack: Stack) -> None:
    rid = stack.ids["F5-1"]

    def change_later() -> None:
        time.sleep(1.0)
        stack.client.patch(
            f"/api/v1/resources/{rid}/twin/desired",
            json={"desired": {"rpm": 120}},
            headers=stack.headers["admin"],
        )

    changer = threading.Thread(target=change_later, daemon=True)
    changer.start()
    seen: list[dict[str, Any]] = []
    with stack.client.stream(
        "GET", "/api/v1/stream/twins?poll_seconds=0.2&max_seconds=6", headers=stack.headers["operator"]
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :]))
                if any(t["resource_id"] == rid and t["desired"].get("rpm") == 120 for t in seen):
                    break
    changer.join(timeout=10)
    assert any(t["resource_id"] == rid and t["desired"].get("rpm") == 120 for t in seen)
    assert stack.client.get("/api/v1/stream/twins", headers=stack.headers["anonymous"]).status_code == 401


def test_twin_rows_exist_for_what_was_ingested(stack: Stack) -> None:
    with unit_of_work(make_engine(stack.settings)) as session:
        twin = session.get(Twin, stack.ids["F5-1"])
    assert twin is not None and twin.version >= 1


def test_an_sme_stream_shows_only_the_resources_it_runs_now(stack: Stack) -> None:
    now = datetime.now(UTC)
    _book(stack, "F50-1", now - timedelta(minutes=5), now + timedelta(hours=1))
    hidden, mine = stack.ids["F5-1"], stack.ids["F50-1"]

    def change_later() -> None:
        time.sleep(1.0)
        for rid in (hidden, mine):
            stack.client.patch(
                f"/api/v1/resources/{rid}/twin/desired",
                json={"desired": {"rpm": 200}},
                headers=stack.headers["admin"],
            )

    changer = threading.Thread(target=change_later, daemon=True)
    changer.start()
    seen: list[int] = []
    # As a browser's EventSource asks: the session cookie, no Authorization header, no token in the URL.
    token = stack.headers["sme"]["Authorization"].removeprefix("Bearer ")
    bad = stack.client.get("/api/v1/stream/twins", headers={"Cookie": "ps_session=not-a-token"})
    assert bad.status_code == 401
    with stack.client.stream(
        "GET",
        "/api/v1/stream/twins?poll_seconds=0.2&max_seconds=6",
        headers={"Cookie": f"ps_session={token}"},
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :])["resource_id"])
                if mine in seen:
                    break
    changer.join(timeout=10)
    assert mine in seen and hidden not in seen
