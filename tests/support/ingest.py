"""A running `Ingest` on a seeded database, with a private InfluxDB database and the module's broker: the
stack the ingest, alarm-rule and command tests share.

Import the fixtures by name into a conftest.py (with ``influxdb_module`` and ``mosquitto_module``)::

    from tests.support.ingest import ingest_options, ingest_site  # noqa: F401

``ingest_site`` (module scope, once per database kind of ``database_url``) gives an :class:`IngestSite`;
a test module that needs other ingest arguments overrides ``ingest_options``::

    @pytest.fixture(scope="module")
    def ingest_options() -> dict[str, Any]:
        return {"rules_refresh_s": 0.2}
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.adapters.influx import InfluxClient, InfluxWriter
from backend.db import make_engine, unit_of_work
from backend.ingest.service import Ingest
from backend.services.demo.seed import DemoLogin, seed_demo
from backend.settings import Settings
from tests.support.influxdb import InfluxServer
from tests.support.mosquitto import MosquittoBroker

SECRET = "test-secret-key-0123456789-abcdefghijkl"


@dataclass
class IngestSite:
    settings: Settings
    engine: Engine
    #: the demo's logins by role (the first of each role: the first SME)
    logins: dict[str, DemoLogin]
    ingest: Ingest
    broker: MosquittoBroker
    influx: InfluxServer

    def headers(self, client: TestClient, roles: tuple[str, ...]) -> dict[str, dict[str, str]]:
        """A bearer header for each of these roles, logged in through the API."""
        headers = {}
        for role in roles:
            login = self.logins[role]
            answer = client.post(
                "/api/v1/auth/token", data={"username": login.email, "password": login.password}
            )
            assert answer.status_code == 200, answer.text
            headers[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        return headers


def start_ingest(broker_url: str, engine: Engine, influx: InfluxClient, **options: Any) -> Ingest:
    """An `Ingest` batching every 50 ms, connected and subscribed. Its group is its own unless given: the
    broker is shared by the module, and a stopped ingest's kept session still takes its turn of its
    group's messages."""
    options.setdefault("group", f"ingest-{uuid.uuid4().hex[:6]}")
    ingest = Ingest(
        broker_url,
        engine,
        InfluxWriter(influx, flush_seconds=0.05),
        client_id=f"ingest-{uuid.uuid4().hex[:6]}",
        batch_seconds=0.05,
        **options,
    )
    ingest.start()
    assert ingest.wait_connected(10), "ingest did not subscribe"
    return ingest


@pytest.fixture(scope="module")
def ingest_options() -> dict[str, Any]:
    """Arguments for the module's `Ingest` beyond those of `start_ingest`."""
    return {}


@pytest.fixture(scope="module")
def ingest_site(
    database_url: str,
    influxdb_module: InfluxServer,
    mosquitto_module: MosquittoBroker,
    ingest_options: dict[str, Any],
) -> Iterator[IngestSite]:
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        background_seconds=0,
        webhook_allow_private=True,  # the tests' webhook receivers listen on 127.0.0.1
        mqtt_url=mosquitto_module.url_as("ingest"),
        influx_url=influxdb_module.url,
        influx_db=f"ps_{uuid.uuid4().hex[:8]}",
    )
    engine = make_engine(settings)
    with unit_of_work(engine) as session:
        logins = {login.role: login for login in reversed(seed_demo(session))}
    influx = InfluxClient(settings.influx_url, settings.influx_db)
    influx.ensure_database()
    ingest = start_ingest(settings.mqtt_url, engine, influx, **ingest_options)
    try:
        yield IngestSite(settings, engine, logins, ingest, mosquitto_module, influxdb_module)
    finally:
        ingest.stop()
        influx.close()
        engine.dispose()
