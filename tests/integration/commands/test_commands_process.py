"""`pilotshare commands` as a real process: it logs in with the backend's account from credentials.json,
publishes what is queued, and on SIGTERM exits 0 with its counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from backend.db import make_engine, unit_of_work
from backend.domain.commands import CommandAction
from backend.migrations import upgrade
from backend.models.resource import Resource
from backend.services.demo.seed import seed_demo
from backend.services.devices import commands
from backend.settings import Settings
from edge_agent import protocol
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_the_commands_process_publishes_with_the_backends_account_and_stops_cleanly(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    url = f"sqlite:///{tmp_path}/ps.db"
    upgrade(url)
    engine = make_engine(Settings(database_url=url))
    with unit_of_work(engine) as session:
        seed_demo(session)
        resource = session.exec(select(Resource).where(Resource.code == "F5-1")).one()
        expires = datetime.now(UTC) + timedelta(minutes=5)
        queued = commands.issue(session, resource, CommandAction.lock, {}, expires, user_id=1).id
    engine.dispose()
    agent = mosquitto.client("jinan-bio/F5-1")
    assert agent.subscribe(protocol.cmd_topic("jinan-bio", "F5-1"))
    env = {
        **os.environ,
        "PILOTSHARE_DATABASE_URL": url,
        "PILOTSHARE_MQTT_URL": mosquitto.url,  # no user: the backend's account from the credentials file
        "PILOTSHARE_MQTT_CREDENTIALS": str(mosquitto.credentials_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pilotshare", "commands"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        received = eventually(lambda: agent.received(), 30, "the command on the agent's cmd topic")
        command = protocol.parse_payload("cmd", received[0])
        assert command.id == queued and command.action == "lock"
        assert command.refusal(protocol.to_epoch_ns(protocol.rfc3339())) is None  # an agent would obey it
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        agent.close()
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["sent"] >= 1
