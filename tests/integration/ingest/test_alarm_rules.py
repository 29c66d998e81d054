"""Threshold alarm rules on simulated instruments, through a real Mosquitto and `Ingest`: the demo's rules
fire when a simulated furnace overheats or a fermenter's pH drifts, an operator acknowledges and clears
through the API, the alarm reaches a webhook receiver, a signal back inside clears it by itself, and two
workers sharing the stream make one alarm of one excursion. A simulated fault produces one repair
proposal over the stored bookings, which an operator applies; every moved booking passes the slot checker.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.adapters.influx import InfluxClient
from backend.domain.bookings import HOLDS_SLOT
from backend.domain.intervals import Interval
from backend.ingest.service import Ingest
from backend.main import create_app
from backend.models.alarm_rule import ResourceFault
from backend.models.booking import Booking
from backend.models.outbox import OutboxMessage
from backend.models.platform import Platform
from backend.models.resource import Resource
from backend.models.twin import Twin
from backend.services.bookings.rules import check_fixed_slot
from backend.services.notifications.delivery import deliver_pending
from backend.services.scheduling.problems import requester_of
from backend.settings import Settings
from edge_agent.protocol import event_topic, telemetry_topic
from simulators.devices.base import Device
from simulators.devices.fermenter import Fermenter
from simulators.devices.furnace import Furnace
from simulators.devices.hplc import Hplc
from tests.support.ingest import IngestSite, start_ingest
from tests.support.mosquitto import BrokerClient, MosquittoBroker
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
PLATFORM = "jinan-bio"
V1 = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Receiver:
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    ingest: Ingest
    broker: MosquittoBroker
    client: TestClient
    receiver: Receiver
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def call(self, role: str, method: str, url: str, json_body: Any = None) -> Any:
        return self.client.request(method, url, json=json_body, headers=self.headers[role])

    def alarms(self, code: str, **query: str) -> list[dict[str, Any]]:
        params = {"resource_id": str(self.ids[code]), "limit": "500", **query}
        body = self.call("operator", "GET", f"{V1}/alarms?" + "&".join(f"{k}={v}" for k, v in params.items()))
        return [a for a in body.json()["data"] if a["source"] == "rule"]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/alarms"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def ingest_options() -> dict[str, Any]:
    return {"rules_refresh_s": 0.2}


@pytest.fixture(scope="module")
def stack(ingest_site: IngestSite, receiver: Receiver) -> Iterator[Stack]:
    site = ingest_site
    with TestClient(create_app(site.settings)) as client:
        s = Stack(site.settings, site.engine, site.ingest, site.broker, client, receiver)
        s.headers = site.headers(client, ("admin", "operator", "sme", "auditor"))
        resources = s.call("admin", "GET", f"{V1}/resources?platform={PLATFORM}&limit=100").json()["data"]
        s.ids.update({r["code"]: r["id"] for r in resources})
        s.ids["platform"] = resources[0]["platform_id"]
        yield s


class Agent:
    """A simulated instrument's agent: the device's 1 Hz samples as contract telemetry, device time
    hours ago (so nothing is refused as future), published QoS 1 through the broker."""

    def __init__(self, stack: Stack, device: Device) -> None:
        self.stack, self.device, self.seq = stack, device, 0
        self.client: BrokerClient = stack.broker.client(f"{PLATFORM}/{device.code}")
        self.last_ns = 0

    def run(self, seconds: int, per_message: int = 30) -> None:
        samples = []
        for _ in range(seconds):
            self.device.tick(1)
            samples.append({"ts": self.device.ts_ns(), "fields": self.device.read()})
            if len(samples) == per_message:
                self._send(samples)
                samples = []
        if samples:
            self._send(samples)

    def _send(self, samples: list[dict[str, Any]]) -> None:
        body = {"agent": f"sim-{PLATFORM}-{self.device.code}", "seq": self.seq, "samples": samples}
        self.client.publish(telemetry_topic(PLATFORM, self.device.code), json.dumps(body))
        for event in self.device.drain_events():
            self.client.publish(event_topic(PLATFORM, self.device.code), json.dumps(event))
        self.seq += 1
        self.last_ns = samples[-1]["ts"]

    def wait_ingested(self, signal: str) -> None:
        """Until the twin holds the last sample sent: every message before it was handled."""

        def caught_up() -> bool:
            with Session(self.stack.engine) as session:
                twin = session.get(Twin, self.stack.ids[self.device.code])
                return twin is not None and (twin.reported or {}).get(signal, {}).get("ns") == self.last_ns

        eventually(caught_up, 60, f"{self.device.code}'s last sample in its twin")

    def close(self) -> None:
        self.client.close()


def hours_ago(hours: float) -> int:
    return time.time_ns() - int(hours * 3600e9)


def soaking_furnace(code: str) -> Furnace:
    furnace = Furnace(code, seed=7, attributes={"max_temp_c": 1200}, start_ns=hours_ago(3))
    furnace.start_run(program=[(50, 900, 240)], purge_s=10)
    while not (furnace.phase == "program" and abs(furnace.temp - 900) < 3):
        furnace.tick(1)
    return furnace


def running_fermenter(code: str, seed: int = 7) -> Fermenter:
    fermenter = Fermenter(code, seed=seed, attributes={"volume_l": 5}, start_ns=hours_ago(3))
    fermenter.start_run(sterilize_hold_s=60)
    while fermenter.phase != "run":
        fermenter.tick(1)
    fermenter.drain_events()
    return fermenter


def test_an_overheating_furnace_raises_the_rule_alarm_which_is_acknowledged_cleared_and_reaches_a_webhook(
    stack: Stack,
) -> None:
    hook = stack.call(
        "operator",
        "POST",
        f"{V1}/platforms/{stack.ids['platform']}/webhooks",
        {"url": stack.receiver.url, "events": ["alarm.critical", "alarm.raised"]},
    )
    assert hook.status_code == 201, hook.text
    agent = Agent(stack, soaking_furnace("TF-1"))
    agent.run(60)
    agent.device.start_excursion("overheat", duration_s=300)
    agent.run(240)  # ~130 s above 1000 °C: the 30 s rule has fired
    raised = eventually(lambda: stack.alarms("TF-1", state="active"), 60, "the furnace-overheat alarm")
    assert len(raised) == 1
    alarm = raised[0]
    assert alarm["code"] == "furnace-overheat" and alarm["severity"] == "critical" and alarm["rule_id"]
    assert "temperature_c" in alarm["message"]

    deliver_pending(stack.engine, stack.settings)
    told = eventually(
        lambda: [c for c in stack.receiver.calls if c.get("alarm_id") == alarm["id"]], 30, "the webhook call"
    )
    assert told[0]["event"] == "alarm.critical" and told[0]["resource"] == "TF-1"

    acked = stack.call("operator", "POST", f"{V1}/alarms/{alarm['id']}/ack", {"note": "on it"})
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    cleared = stack.call("operator", "POST", f"{V1}/alarms/{alarm['id']}/clear", {"note": "reset by hand"})
    assert cleared.status_code == 200 and cleared.json()["state"] == "cleared"
    assert cleared.json()["cleared_by_id"] is not None

    agent.run(600)  # still hot a while (no second alarm for the same excursion), then back on its soak
    agent.wait_ingested("temperature_c")
    agent.close()
    alarms = stack.alarms("TF-1")
    assert [a["id"] for a in alarms] == [alarm["id"]]
    assert alarms[0]["note"] == "reset by hand"
    events = stack.call("auditor", "GET", f"{V1}/audit/events?subject=alarm:{alarm['id']}").json()["data"]
    assert {e["action"] for e in events} >= {"alarm.raise", "alarm.ack", "alarm.clear"}


def test_a_ph_back_inside_the_limit_clears_the_alarm_by_itself(stack: Stack) -> None:
    agent = Agent(stack, running_fermenter("F5-2"))
    agent.run(30)
    agent.device.start_excursion("ph_drift", duration_s=400)
    agent.run(400)
    raised = eventually(lambda: stack.alarms("F5-2", state="active"), 60, "the pH alarm")
    assert [a["code"] for a in raised] == ["fermenter-ph-low"] and raised[0]["severity"] == "warning"
    agent.run(1200)  # the base pump brings the pH back above 6.6
    agent.wait_ingested("ph")
    agent.close()
    cleared = eventually(lambda: stack.alarms("F5-2", state="cleared"), 30, "the alarm cleared by the system")
    assert [a["id"] for a in cleared] == [raised[0]["id"]]
    assert cleared[0]["cleared_by_id"] is None and cleared[0]["note"].startswith("cleared by the system")
    assert cleared[0]["cleared_at"] > cleared[0]["ts"]
    assert stack.alarms("F5-2", state="active") == []


def test_two_workers_sharing_the_stream_make_one_alarm_of_one_excursion(stack: Stack) -> None:
    group = f"pair-{uuid.uuid4().hex[:6]}"
    influxes = [InfluxClient(stack.settings.influx_url, stack.settings.influx_db) for _ in range(2)]
    workers = [
        start_ingest(
            stack.settings.mqtt_url,
            stack.engine,
            influx,
            group=group,
            rules_refresh_s=0.2,
            repair_faults=False,
        )
        for influx in influxes
    ]
    try:
        agent = Agent(stack, running_fermenter("F50-1", seed=11))
        agent.device.start_excursion("ph_drift", duration_s=400)
        agent.run(1600, per_message=5)  # small messages, handed out to both workers of the group
        agent.wait_ingested("ph")
        agent.close()
        eventually(lambda: stack.alarms("F50-1", state="cleared"), 30, "the alarm cleared")
        assert all(w.stats.samples > 0 for w in workers), [w.stats.samples for w in workers]
    finally:
        for worker in workers:
            worker.stop()
        for influx in influxes:
            influx.close()
    alarms = stack.alarms("F50-1")
    assert len(alarms) == 1, alarms
    assert alarms[0]["code"] == "fermenter-ph-low" and alarms[0]["state"] == "cleared"


# --- a fault during a running month ----------------------------------------------------------------


def book_and_approve(stack: Stack, code: str, start: datetime, hours: int) -> int:
    body = {
        "resource_id": stack.ids[code],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "purpose": "中试发酵 pilot run",
    }
    booked = stack.call("sme", "POST", f"{V1}/bookings", body)
    assert booked.status_code == 201, booked.text
    approved = stack.call("operator", "POST", f"{V1}/bookings/{booked.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    return int(booked.json()["id"])


def overlapping(session: Session, booking: Booking) -> list[int | None]:
    """Other bookings holding time on the same resource that overlap this one."""
    assert booking.starts_at is not None and booking.ends_at is not None
    return list(
        session.exec(
            select(Booking.id).where(
                Booking.resource_id == booking.resource_id,
                Booking.id != booking.id,
                col(Booking.parent_id).is_(None),
                col(Booking.status).in_([s.value for s in HOLDS_SLOT]),
                col(Booking.starts_at) < booking.ends_at,
                col(Booking.ends_at) > booking.starts_at,
            )
        )
    )


def working_days(count: int) -> list[datetime]:
    """09:00 in Shanghai on the next `count` weekdays from the day after tomorrow."""
    day = datetime.now(SHANGHAI).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=2)
    days = []
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_a_fault_during_a_running_month_gets_one_repair_proposal_whose_applied_plan_passes_the_slot_checker(
    stack: Stack,
) -> None:
    days = working_days(8)
    month = [book_and_approve(stack, "HPLC-1", day, 3) for day in days]
    outage = (days[1] - datetime.now(SHANGHAI)).total_seconds() / 3600 + 1  # the first two days' bookings
    stack.call("operator", "PATCH", f"{V1}/platforms/{stack.ids['platform']}", {"fault_outage_hours": outage})
    device = Hplc("HPLC-1", seed=3, start_ns=time.time_ns() - 600 * 10**9)
    agent = Agent(stack, device)
    agent.run(60)
    device.inject_fault("power_loss")
    agent.run(60)  # state fault: an event and every sample say so

    def proposed() -> list[dict[str, Any]]:
        rows = stack.call("operator", "GET", f"{V1}/schedule/repairs?status=proposed").json()["data"]
        return [r for r in rows if r["resource_id"] == stack.ids["HPLC-1"] and r["fault_id"]]

    proposal = eventually(proposed, 120, "the fault's repair proposal")[0]
    agent.run(120)  # repeated fault messages: the same episode
    agent.wait_ingested("state")
    agent.close()
    assert len(proposed()) == 1
    assert proposal["cause"] == "fault" and set(proposal["affected"]) == set(month[:2])
    assert {m["booking_id"] for m in proposal["moves"]} >= set(month[:2])
    assert all(m["reason"] for m in proposal["moves"])

    applied = stack.call("operator", "POST", f"{V1}/schedule/repairs/{proposal['id']}/apply")
    assert applied.status_code == 200, applied.text
    now = datetime.now(UTC)
    with Session(stack.engine) as session:
        platform = session.exec(select(Platform).where(Platform.id == stack.ids["platform"])).one()
        fault = session.get(ResourceFault, proposal["fault_id"])
        assert fault is not None
        outage = Interval(fault.started_at, fault.started_at + timedelta(hours=platform.fault_outage_hours))
        for move in proposal["moves"]:
            booking = session.get(Booking, move["booking_id"])
            assert booking is not None and booking.starts_at and booking.ends_at
            resource = session.get(Resource, booking.resource_id)
            assert resource is not None
            slot = Interval(booking.starts_at, booking.ends_at)
            # the one function that decides whether a slot is allowed, as of now
            check_fixed_slot(session, requester_of(booking), resource, platform, slot, now, booking.id)
            assert overlapping(session, booking) == []
            if resource.id == stack.ids["HPLC-1"]:
                assert not (slot.start < outage.end and slot.end > outage.start)
        moved = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.event == "booking.moved",
                col(OutboxMessage.booking_id).in_([m["booking_id"] for m in proposal["moves"]]),
            )
        ).all()
    assert {m.booking_id for m in moved} == {m["booking_id"] for m in proposal["moves"]}


def test_a_small_repair_is_applied_by_the_platforms_policy(stack: Stack) -> None:
    day = working_days(1)[0] + timedelta(days=1)
    booking = book_and_approve(stack, "F50-1", day, 4)
    outage = (day - datetime.now(SHANGHAI)).total_seconds() / 3600 + 2
    settings = {"fault_outage_hours": outage, "auto_apply_repairs_up_to_moves": 3}
    assert (
        stack.call("operator", "PATCH", f"{V1}/platforms/{stack.ids['platform']}", settings).status_code
        == 200
    )
    device = running_fermenter("F50-1", seed=5)
    device.start_ns = time.time_ns() - int(device.t * 1e9) - 120 * 10**9
    agent = Agent(stack, device)
    agent.run(20)
    device.inject_fault("power_loss")
    agent.run(20)

    def applied() -> list[dict[str, Any]]:
        rows = stack.call("operator", "GET", f"{V1}/schedule/repairs?status=applied").json()["data"]
        return [r for r in rows if r["resource_id"] == stack.ids["F50-1"] and r["fault_id"]]

    repair = eventually(applied, 120, "the repair applied by the policy")[0]
    agent.close()
    assert repair["decided_by_id"] is None and "policy" in repair["decision_reason"]
    assert booking in {m["booking_id"] for m in repair["moves"]}
    with Session(stack.engine) as session:
        moved = session.get(Booking, booking)
        assert moved is not None and moved.starts_at is not None
        assert moved.starts_at.astimezone(SHANGHAI) != day
