"""Fixtures for edge agent integration tests: a private Mosquitto and a recording subscriber."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.edge_agent.helpers import Recorder
from tests.support.mosquitto import mosquitto, mosquitto_url  # noqa: F401  (fixtures by name)


@pytest.fixture
def recorder(mosquitto_url: str) -> Iterator[Recorder]:  # noqa: F811
    rec = Recorder(mosquitto_url).start()
    deadline = time.monotonic() + 5
    while not rec.client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    yield rec
    rec.stop()
