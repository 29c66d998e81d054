"""The live page fed the way a platform feeds it: a simulated fermenter publishes its samples through a
real Mosquitto (with its agent's account), `Ingest` keeps its twin and judges the demo's alarm rules, and
the page follows. When the simulator starts a run the card turns to running without a reload; when the
fermenter's pH drifts below the rule's limit, the rule's alarm appears and the operator acknowledges it
on the page (both languages, tablet width)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import expect

from backend.adapters.influx import InfluxClient
from backend.db import make_engine
from backend.ingest.service import Ingest
from edge_agent.protocol import event_topic, telemetry_topic
from simulators.devices.fermenter import Fermenter
from tests.e2e.conftest import Stack, Visit
from tests.e2e.test_operator_journeys import LANGUAGES, TABLET
from tests.support.ingest import start_ingest
from tests.support.mosquitto import BrokerClient, MosquittoBroker, mosquitto_module  # noqa: F401

pytestmark = pytest.mark.e2e

PLATFORM = "jinan-bio"
#: instruments no earlier journey reports to: their twins take these samples, stamped from hours ago
CODES = {"zh": ("F500-1", 500), "en": ("F50-1", 50)}


@dataclass
class Feed:
    broker: MosquittoBroker
    ingest: Ingest


@pytest.fixture(scope="module")
def feed(stack: Stack, mosquitto_module: MosquittoBroker) -> Iterator[Feed]:  # noqa: F811
    """Ingest of the e2e stack's database and InfluxDB, on a private broker."""
    engine = make_engine(stack.settings)
    influx = InfluxClient(stack.settings.influx_url, stack.settings.influx_db)
    ingest = start_ingest(mosquitto_module.url_as("ingest"), engine, influx, rules_refresh_s=0.2)
    try:
        yield Feed(mosquitto_module, ingest)
    finally:
        ingest.stop()
        influx.close()
        engine.dispose()


class SimulatedAgent:
    """A fermenter's samples (1 Hz device time, from three hours ago) as contract telemetry, published QoS 1
    with its agent's account."""

    def __init__(self, broker: MosquittoBroker, code: str, volume_l: int) -> None:
        start_ns = time.time_ns() - 3 * 3600 * 10**9  # the longest warm-up below stays in the past
        self.device = Fermenter(code, seed=11, attributes={"volume_l": volume_l}, start_ns=start_ns)
        self.client: BrokerClient = broker.client(f"{PLATFORM}/{code}")
        self.seq = 0

    def run(self, seconds: int, per_message: int = 30) -> None:
        samples = []
        for _ in range(seconds):
            self.device.tick(1)
            samples.append({"ts": self.device.ts_ns(), "fields": self.device.read()})
            if len(samples) == per_message or _ == seconds - 1:
                body = {"agent": f"sim-{self.device.code}", "seq": self.seq, "samples": samples}
                self.client.publish(telemetry_topic(PLATFORM, self.device.code), json.dumps(body))
                for event in self.device.drain_events():
                    self.client.publish(event_topic(PLATFORM, self.device.code), json.dumps(event))
                self.seq, samples = self.seq + 1, []

    def close(self) -> None:
        self.client.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_simulated_run_and_its_alarm_reach_the_live_page(
    visit: Visit, stack: Stack, feed: Feed, lang: str
) -> None:
    code, volume_l = CODES[lang]
    agent = SimulatedAgent(feed.broker, code, volume_l)
    agent.run(30)  # idle
    visit.page.set_viewport_size(TABLET)
    email, password = stack.logins["operator"]
    visit.go(f"/?lang={lang}")
    visit.login(email, password, then="/live")
    card = visit.page.locator(f"#twins .card.twin[data-code='{code}']")
    expect(card).to_have_attribute("data-state", "idle", timeout=20_000)

    agent.device.start_run(sterilize_hold_s=60)
    for _ in range(120):  # heating and sterilizing (simulated time, sent at once), then the run itself
        agent.run(60)
        if agent.device.phase == "run":
            break
    agent.run(30)
    expect(card).to_have_attribute("data-state", "running", timeout=20_000)  # the twin stream, no reload
    visit.shot(f"live-simulated-run-{lang}")

    agent.device.start_excursion("ph_drift", duration_s=400)
    agent.run(400)
    item = card.locator("li.alarm", has_text="fermenter-ph-low")
    expect(item).to_have_attribute("data-state", "active", timeout=30_000)  # the page reads alarms every 15 s
    with visit.page.expect_response(lambda r: r.url.endswith("/ack") and r.request.method == "POST") as done:
        item.get_by_role("button", name="确认" if lang == "zh" else "Acknowledge").click()
    assert done.value.status == 200
    expect(item).to_have_attribute("data-state", "acknowledged")
    visit.shot(f"live-simulated-alarm-acknowledged-{lang}")
    agent.close()

    # leave the fleet as other journeys expect it: none of this instrument's alarms open
    token = httpx.post(f"{stack.url}/api/v1/auth/token", data={"username": email, "password": password})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    found = httpx.get(f"{stack.url}/api/v1/resources", params={"q": code}, headers=headers).json()["data"]
    resource_id = next(r["id"] for r in found if r["code"] == code)
    for state in ("active", "acknowledged"):
        query = {"resource_id": resource_id, "state": state, "limit": 500}
        for alarm in httpx.get(f"{stack.url}/api/v1/alarms", params=query, headers=headers).json()["data"]:
            cleared = httpx.post(f"{stack.url}/api/v1/alarms/{alarm['id']}/clear", headers=headers)
            assert cleared.status_code == 200, cleared.text
