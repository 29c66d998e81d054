"""Commands end to end on a private Mosquitto: the API queues them, `Dispatcher` publishes them with the
backend's account, a simulated instrument (`pilotshare simulate`, the fleet's MQTT link) or a scripted agent
answers on `cmd/ack`, ingest settles them, and the twin shows the outcome. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from backend.db import make_engine, unit_of_work
from backend.dispatcher import Dispatcher
from backend.domain.commands import CommandAction
from backend.main import create_app
from backend.models.booking import Booking
from backend.models.resource import Resource
from backend.services.devices import commands
from backend.settings import Settings
from edge_agent import protocol
from tests.support.ingest import IngestSite
from tests.support.mosquitto import BrokerClient, MosquittoBroker
from tests.support.processes import stop_process
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
PLATFORM = "jinan-bio"
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Stack:
    settings: Settings
    broker: MosquittoBroker
    dispatcher: Dispatcher
    client: TestClient
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def call(self, role: str, method: str, url: str, body: Any = None) -> Any:
        response = self.client.request(method, f"/api/v1{url}", json=body, headers=self.headers[role])
        assert response.status_code < 300, response.text
        return response.json()

    def twin(self, code: str) -> dict[str, Any]:
        body: dict[str, Any] = self.call("operator", "GET", f"/resources/{self.ids[code]}/twin")
        return body

    def command(self, code: str, command_id: str) -> dict[str, Any] | None:
        one: dict[str, Any] = self.call("operator", "GET", f"/commands/{command_id}")
        assert one["resource_id"] == self.ids[code]
        return one

    def settled(self, code: str, command_id: str) -> dict[str, Any] | None:
        command = self.command(code, command_id)
        return command if command and command["state"] not in ("pending", "sent") else None

    def reported(self, code: str, name: str) -> Any:
        reading = self.twin(code)["reported"].get(name)
        return None if reading is None else reading["value"]

    def rounds_later(self, n: int = 3) -> None:
        """Wait until the dispatcher has looked at the outbox `n` more times."""
        start = self.dispatcher.stats.rounds
        eventually(lambda: self.dispatcher.stats.rounds >= start + n, what=f"{n} dispatcher rounds")


@pytest.fixture(scope="module")
def stack(ingest_site: IngestSite) -> Iterator[Stack]:
    site = ingest_site
    dispatcher = Dispatcher(
        site.broker.url_as("backend"),
        site.engine,
        client_id=f"commands-{uuid.uuid4().hex[:6]}",
        retry_seconds=1.0,
        poll_seconds=0.1,
        sweep_seconds=0.5,
    )
    dispatcher.start()
    assert dispatcher.wait_connected(10), "the dispatcher did not connect"
    try:
        with TestClient(create_app(site.settings)) as client:
            s = Stack(site.settings, site.broker, dispatcher, client)
            s.headers = site.headers(client, ("admin", "operator", "sme"))
            resources = s.call("admin", "GET", "/resources?platform=jinan-bio&limit=100")["data"]
            s.ids.update({r["code"]: r["id"] for r in resources})
            me = s.call("sme", "GET", "/me")
            s.ids["sme_org"], s.ids["sme_user"] = me["organization_id"], me["id"]
            s.ids["platform"] = resources[0]["platform_id"]
            yield s
    finally:
        dispatcher.stop()


@pytest.fixture(scope="module")
def fermenter(stack: Stack) -> Iterator[None]:
    """F5-1 as the demo's simulated fermenter, over its own MQTT connection and account."""
    proc = _simulate(stack.broker)
    try:
        eventually(lambda: stack.twin("F5-1")["connection"]["state"] == "online", 30, "F5-1 online")
        eventually(lambda: stack.reported("F5-1", "setpoint_limits"), 30, "F5-1's declared setpoints")
        yield
    finally:
        stop_process(proc)


def _simulate(broker: MosquittoBroker) -> subprocess.Popen[bytes]:
    broker.fleet_credentials(PLATFORM, ["F5-1"])
    env = {
        **os.environ,
        "PILOTSHARE_MQTT_URL": broker.url,
        "PILOTSHARE_MQTT_CREDENTIALS": str(broker.credentials_path),
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "simulators.cli", "simulate", "--devices", "1", "--hz", "2"]
    command += ["--duration", "3600", "--platform", PLATFORM]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)


def _booking(stack: Stack, code: str, start: datetime | None = None, minutes: int = 60) -> int:
    """An approved booking of the SME on `code`, from `start` (a minute ago)."""
    start = start or datetime.now(UTC) - timedelta(minutes=1)
    with unit_of_work(make_engine(stack.settings)) as session:
        booking = Booking(
            platform_id=stack.ids["platform"],
            resource_id=stack.ids[code],
            status="approved",
            organization_id=stack.ids["sme_org"],
            user_id=stack.ids["sme_user"],
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            purpose="interlock test run",
        )
        session.add(booking)
        session.flush()
        assert booking.id is not None
        return booking.id


def _interlock(stack: Stack, code: str, **policy: Any) -> None:
    resource = stack.call("admin", "GET", f"/resources/{stack.ids[code]}")
    attributes = {**resource["attributes"], "interlock": True, **policy}
    stack.call("admin", "PATCH", f"/resources/{stack.ids[code]}", {"attributes": attributes})


def _latest(stack: Stack, code: str, action: str, booking: int | None = None) -> dict[str, Any] | None:
    listed = stack.call("operator", "GET", f"/resources/{stack.ids[code]}/commands?limit=500")["data"]
    return next(
        (
            c
            for c in listed
            if c["action"] == action and (booking is None or c["on_behalf_of"]["booking"] == booking)
        ),
        None,
    )


def test_check_in_unlocks_check_out_locks_and_a_setpoint_is_applied(stack: Stack, fermenter: None) -> None:
    _interlock(stack, "F5-1")  # turning the interlock on locks the idle instrument
    first_lock = eventually(lambda: _latest(stack, "F5-1", "lock"), what="the lock of the idle instrument")
    assert first_lock["on_behalf_of"]["user"] is not None
    eventually(lambda: stack.reported("F5-1", "locked") is True, what="the device reporting it is locked")
    first = _booking(stack, "F5-1", minutes=10)
    stack.call("sme", "POST", f"/bookings/{first}/check-in")
    unlock = eventually(lambda: _latest(stack, "F5-1", "unlock", first), what="the unlock command")
    applied = eventually(lambda: stack.settled("F5-1", unlock["id"]), what="the unlock's ack")
    assert applied["state"] == "applied" and applied["on_behalf_of"] == {"booking": first, "user": None}
    assert any(c["id"] == unlock["id"] and c["state"] == "applied" for c in stack.twin("F5-1")["commands"])
    eventually(lambda: stack.reported("F5-1", "locked") is False, what="the device unlocked for the booking")

    twin = stack.call(
        "operator",
        "PATCH",
        f"/resources/{stack.ids['F5-1']}/twin/desired",
        {"desired": {"temperature_sp_c": 30.5}},
    )
    setpoint = twin["commands"][0]
    assert setpoint["action"] == "setpoint" and setpoint["args"] == {"temperature_sp_c": 30.5}
    assert setpoint["state"] in ("pending", "sent")
    assert (
        eventually(lambda: stack.settled("F5-1", setpoint["id"]), what="the setpoint's ack")["state"]
        == "applied"
    )

    # the SME, seeing the twin during its booking, sees its booking's commands, not the operator's
    mine = stack.call("sme", "GET", f"/resources/{stack.ids['F5-1']}/twin")["commands"]
    assert [c["id"] for c in mine] == [unlock["id"]]
    stack.call("sme", "POST", f"/bookings/{first}/check-out")
    lock = eventually(lambda: _latest(stack, "F5-1", "lock", first), what="the lock command")
    assert eventually(lambda: stack.settled("F5-1", lock["id"]), what="the lock's ack")["state"] == "applied"
    eventually(lambda: stack.reported("F5-1", "locked") is True, what="the device reporting it is locked")

    events = stack.call("admin", "GET", "/audit/events?subject=device_command&limit=500")["data"]
    done = {(e["action"], e["subject_id"]) for e in events}
    for command in (unlock, setpoint, lock):
        assert ("command.created", command["id"]) in done
        assert ("command.applied", command["id"]) in done
    assert stack.call("admin", "GET", "/audit/verify")["ok"]  # a float setpoint kept in the chain


def test_a_setpoint_beyond_the_devices_limit_is_refused(stack: Stack, fermenter: None) -> None:
    url = f"/resources/{stack.ids['F5-1']}/twin/desired"
    too_hot = stack.client.patch(
        f"/api/v1{url}", json={"desired": {"temperature_sp_c": 300}}, headers=stack.headers["operator"]
    )
    assert too_hot.status_code == 422
    assert too_hot.json()["detail"] == "desired.temperature_sp_c: 300 is above the maximum 60"
    unknown = stack.client.patch(
        f"/api/v1{url}", json={"desired": {"temp_c": 30}}, headers=stack.headers["operator"]
    )
    assert unknown.status_code == 422 and "temperature_sp_c" in unknown.json()["detail"]
    # the operator's own, stricter limit on the resource
    resource = stack.call("admin", "GET", f"/resources/{stack.ids['F5-1']}")
    attributes = {**resource["attributes"], "agitation_sp_rpm_max": 600}
    stack.call("admin", "PATCH", f"/resources/{stack.ids['F5-1']}", {"attributes": attributes})
    fast = stack.client.patch(
        f"/api/v1{url}", json={"desired": {"agitation_sp_rpm": 900}}, headers=stack.headers["operator"]
    )
    assert fast.status_code == 422
    assert fast.json()["detail"] == "desired.agitation_sp_rpm: 900 is above the maximum 600"


class ScriptedAgent:
    """An agent for one resource that answers only the commands `answer` lets through."""

    def __init__(self, stack: Stack, code: str, answer: Any = lambda n, cmd: True) -> None:
        self.stack, self.code, self.answer = stack, code, answer
        self.seen: list[protocol.Command] = []
        self.client: BrokerClient | None = None

    def online(self) -> None:
        key = f"{PLATFORM}/{self.code}"
        client = BrokerClient(self.stack.broker, key, client_id=f"agent-{self.code}")
        client.paho.on_message = self._on_message
        assert client.subscribe(protocol.cmd_topic(PLATFORM, self.code))
        birth = protocol.StatusOnline(agent=f"scripted-{self.code}", since=protocol.rfc3339())
        client.publish(protocol.status_topic(PLATFORM, self.code), birth.to_json(), retain=True)
        self.client = client

    def offline(self) -> None:
        assert self.client is not None
        self.client.publish(protocol.status_topic(PLATFORM, self.code), protocol.LAST_WILL, retain=True)
        self.client.close()
        self.client = None

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        command = protocol.parse_payload("cmd", msg.payload)
        self.seen.append(command)
        if self.answer(len(self.seen), command):
            ack = protocol.CommandAck(id=command.id, ok=True)
            client.publish(protocol.cmd_ack_topic(PLATFORM, self.code), ack.to_json(), qos=1)


def test_an_unanswered_command_is_sent_again_until_acknowledged(stack: Stack) -> None:
    agent = ScriptedAgent(stack, "F5-2", answer=lambda n, cmd: n >= 2)  # the first one is "lost"
    agent.online()
    try:
        eventually(lambda: stack.twin("F5-2")["connection"]["state"] == "online", what="F5-2 online")
        twin = stack.call(
            "operator", "PATCH", f"/resources/{stack.ids['F5-2']}/twin/desired", {"desired": {"rpm": 200}}
        )
        command_id = twin["commands"][0]["id"]
        done = eventually(lambda: stack.settled("F5-2", command_id), what="the ack of the second send")
        # ≥ 2: on a loaded machine ingest may record the ack after the next retry went out
        assert done["state"] == "applied" and done["attempts"] >= 2
        assert {c.id for c in agent.seen} == {command_id} and len(agent.seen) >= 2
        sent = json.loads(agent.seen[0].to_json())
        assert sent["on_behalf_of"]["user"] is not None and sent["expires"]
    finally:
        agent.client and agent.client.close()


def test_a_command_for_an_offline_device_waits_for_it_and_one_out_of_time_expires(stack: Stack) -> None:
    agent = ScriptedAgent(stack, "F50-1")
    agent.online()
    eventually(lambda: stack.twin("F50-1")["connection"]["state"] == "online", what="F50-1 online")
    agent.offline()
    eventually(lambda: stack.twin("F50-1")["connection"]["state"] == "offline", what="F50-1 offline")

    twin = stack.call(
        "operator", "PATCH", f"/resources/{stack.ids['F50-1']}/twin/desired", {"desired": {"rpm": 300}}
    )
    waiting = twin["commands"][0]["id"]
    with unit_of_work(make_engine(stack.settings)) as session:
        resource = session.get(Resource, stack.ids["F50-1"])
        assert resource is not None
        soon = datetime.now(UTC) + timedelta(seconds=1)
        doomed = commands.issue(
            session, resource, CommandAction.lock, {}, soon, user_id=stack.ids["sme_user"]
        ).id
    expired = eventually(lambda: stack.settled("F50-1", doomed), what="the short command's deadline")
    assert expired["state"] == "expired" and expired["attempts"] == 0 and "offline" in expired["error"]
    stack.rounds_later()
    assert not agent.seen
    assert stack.command("F50-1", waiting)["state"] == "pending"

    agent.online()
    try:
        done = eventually(
            lambda: stack.settled("F50-1", waiting), what="the command after the device is back"
        )
        assert done["state"] == "applied" and done["attempts"] >= 1
        assert {c.id for c in agent.seen} == {waiting}  # the expired one is never sent
    finally:
        agent.client and agent.client.close()


def test_an_unacknowledged_command_expires_after_its_deadline(stack: Stack) -> None:
    agent = ScriptedAgent(stack, "F50-2", answer=lambda n, cmd: False)
    agent.online()
    try:
        eventually(lambda: stack.twin("F50-2")["connection"]["state"] == "online", what="F50-2 online")
        with unit_of_work(make_engine(stack.settings)) as session:
            resource = session.get(Resource, stack.ids["F50-2"])
            assert resource is not None
            deadline = datetime.now(UTC) + timedelta(seconds=2.5)
            command_id = commands.issue(
                session, resource, CommandAction.unlock, {}, deadline, user_id=stack.ids["sme_user"]
            ).id
        done = eventually(lambda: stack.settled("F50-2", command_id), what="the deadline")
        assert done["state"] == "expired" and done["attempts"] >= 2
        assert "not acknowledged" in done["error"]
        eventually(lambda: len(agent.seen) == done["attempts"], what="every send at the agent")
    finally:
        agent.client and agent.client.close()


def test_metrics_count_the_commands_by_state(stack: Stack) -> None:
    url = f"/resources/{stack.ids['HPLC-2']}/twin/desired"
    stack.call("operator", "PATCH", url, {"desired": {"flow_ml_min": 1.5}})
    text = stack.client.get("/metrics").text
    assert "# TYPE pilotshare_device_commands gauge" in text
    assert re.search(r'^pilotshare_device_commands\{state="(pending|sent)"\} [1-9]', text, re.MULTILINE)


def test_the_command_list_is_for_staff_and_auditors(stack: Stack) -> None:
    url = f"/api/v1/resources/{stack.ids['F5-2']}/commands"
    assert stack.client.get(url, headers=stack.headers["sme"]).status_code == 403
    assert stack.client.get(url).status_code == 401
    assert stack.client.get(f"{url}?state=bogus", headers=stack.headers["operator"]).status_code == 422
    listed = stack.client.get(f"{url}?state=applied", headers=stack.headers["admin"]).json()
    assert listed["count"] >= 1 and all(c["state"] == "applied" for c in listed["data"])

    one = f"/api/v1/commands/{listed['data'][0]['id']}"
    assert stack.client.get(one, headers=stack.headers["admin"]).json() == listed["data"][0]
    assert stack.client.get(one, headers=stack.headers["sme"]).status_code == 403
    assert stack.client.get(one).status_code == 401
    missing = stack.client.get("/api/v1/commands/0123456789abcdef", headers=stack.headers["admin"])
    assert missing.status_code == 404 and "command 0123456789abcdef" in missing.text
    for bad_id in ("x" * 41, "a%20b", "a%3Bb"):
        bad = stack.client.get(f"/api/v1/commands/{bad_id}", headers=stack.headers["admin"])
        assert bad.status_code == 422 and "command_id" in bad.text, bad.text
