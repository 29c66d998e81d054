"""Fixtures for edge agent integration tests: a private Mosquitto and a recording subscriber."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.edge_agent.helpers import Recorder
from tests.support.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixtures by name)


@pytest.fixture
def recorder(mosquitto: MosquittoBroker) -> Iterator[Recorder]:  # noqa: F811
    rec = Recorder(mosquitto).start()
    assert rec.subscribed.wait(10), "the recording subscriber was not subscribed within 10 s"
    yield rec
    rec.stop()
