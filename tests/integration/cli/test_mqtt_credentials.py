"""`pilotshare mqtt credentials --out DIR` on a real registry, and a real Mosquitto run from what it wrote:
`listener PORT` followed by DIR/mosquitto.conf, the same way the demo, the tests and docker compose run it."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from sqlmodel import select

from backend.db import make_engine, unit_of_work
from backend.models.resource import Resource, ResourceStatus
from backend.settings import Settings
from edge_agent import protocol
from tests.support.mosquitto import MosquittoBroker, _binary, free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def pilotshare(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTSHARE_")}
    env["PILOTSHARE_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "pilotshare", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def seeded_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo registry as `pilotshare db upgrade` and `pilotshare seed demo` write it, once a module."""
    path = tmp_path_factory.mktemp("registry") / "registry.db"
    url = f"sqlite:///{path}"
    assert pilotshare("db", "upgrade", url=url).returncode == 0
    assert pilotshare("seed", "demo", url=url).returncode == 0
    return path


@pytest.fixture
def registry(seeded_registry: Path, tmp_path: Path) -> str:
    """A copy of the seeded registry of the test's own, which it may change."""
    copy = tmp_path / "registry.db"
    with closing(sqlite3.connect(seeded_registry)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    return f"sqlite:///{copy}"


@pytest.fixture
def broker(tmp_path: Path) -> MosquittoBroker:
    binary = _binary()
    if binary is None:
        pytest.skip("mosquitto binary not found")
    (tmp_path / "mosquitto").mkdir()
    return MosquittoBroker(binary, tmp_path / "mosquitto")


def accounts(directory: Path) -> dict[str, dict[str, str]]:
    data = json.loads((directory / "credentials.json").read_text())
    return {"ingest": data["ingest"], "backend": data["backend"], **data["agents"]}


def test_the_written_files_are_the_broker_configuration(
    registry: str, broker: MosquittoBroker, tmp_path: Path
) -> None:
    out = tmp_path / "broker-files"
    done = pilotshare("mqtt", "credentials", "--out", str(out), url=registry)
    assert done.returncode == 0, done.stderr
    assert "11 agent account(s)" in done.stdout  # ten instruments and the clean room; not the line
    first = accounts(out)
    assert "jinan-bio/PL-1" not in first and first["jinan-bio/CR-1"]["username"] == "agent/jinan-bio/CR-1"
    assert oct((out / "credentials.json").stat().st_mode & 0o777) == "0o600"

    broker.use_files(out)
    broker.start()
    try:
        assert not broker.can_connect(None, None)
        ingest = broker.client("ingest")
        ingest.subscribe(f"{protocol.TOPIC_ROOT}/#")
        f50 = broker.client("jinan-bio/F50-1")
        f50.publish(protocol.telemetry_topic("jinan-bio", "F50-1"), b"hello")
        eventually(lambda: ingest.received(), 10, "the agent's message at ingest")

        # the SD-1 spray dryer is retired, F5-1's password rotated: the broker takes both up on SIGHUP
        engine = make_engine(Settings(database_url=registry))
        with unit_of_work(engine) as session:
            dryer = session.exec(select(Resource).where(Resource.code == "SD-1")).one()
            dryer.status = ResourceStatus.retired
        engine.dispose()
        again = pilotshare(
            "mqtt", "credentials", "--out", str(out), "--rotate", "jinan-bio/F5-1", url=registry
        )
        assert again.returncode == 0, again.stderr
        assert "removed: jinan-bio/SD-1" in again.stdout and "rotated: jinan-bio/F5-1" in again.stdout
        second = accounts(out)
        assert second["jinan-bio/F5-1"] != first["jinan-bio/F5-1"]
        assert {k: v for k, v in second.items() if k != "jinan-bio/F5-1"} == {
            k: v for k, v in first.items() if k not in ("jinan-bio/F5-1", "jinan-bio/SD-1")
        }
        broker.reload_files()
        old_f5, old_sd = first["jinan-bio/F5-1"], first["jinan-bio/SD-1"]
        assert not broker.can_connect(old_f5["username"], old_f5["password"])
        assert not broker.can_connect(old_sd["username"], old_sd["password"])
        assert broker.can_connect(*broker.login("jinan-bio/F5-1"))
        assert not f50.disconnected.is_set(), "an agent whose account did not change was disconnected"
    finally:
        broker.stop()


def test_mistakes_are_named(registry: str, tmp_path: Path) -> None:
    bad = pilotshare(
        "mqtt", "credentials", "--out", str(tmp_path / "x"), "--rotate", "jinan-bio/NOPE", url=registry
    )
    assert bad.returncode == 2 and "--rotate 'jinan-bio/NOPE': no such agent" in bad.stderr
    empty = pilotshare(
        "mqtt", "credentials", "--out", str(tmp_path / "y"), url=f"sqlite:///{tmp_path / 'new.db'}"
    )
    assert empty.returncode == 2 and "run `pilotshare db upgrade` first" in empty.stderr
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "credentials.json").write_text("{")
    damaged = pilotshare("mqtt", "credentials", "--out", str(tmp_path / "z"), url=registry)
    assert damaged.returncode == 2 and "credentials.json: not valid JSON" in damaged.stderr


def test_the_compose_broker_config_is_the_listener_and_the_fragment(registry: str, tmp_path: Path) -> None:
    """deploy/mosquitto.conf sets nothing of its own but a listener and logging: with the fragment in the
    folder it includes, it is the broker docker compose runs."""
    binary = _binary()
    if binary is None:
        pytest.skip("mosquitto binary not found")
    out = tmp_path / "broker"
    assert pilotshare("mqtt", "credentials", "--out", str(out), url=registry).returncode == 0
    deploy = (REPO / "deploy" / "mosquitto.conf").read_text()
    settings = [line.split()[0] for line in deploy.splitlines() if line.strip() and not line.startswith("#")]
    assert set(settings) == {"listener", "log_dest", "log_type", "include_dir"}
    port = free_port()
    conf = tmp_path / "compose-mosquitto.conf"
    conf.write_text(
        deploy.replace("listener 1883", f"listener {port} 127.0.0.1").replace(
            "include_dir /broker", f"include_dir {out}"
        )
        + f"user {getpass.getuser()}\n"
    )
    (tmp_path / "m").mkdir()
    probe = MosquittoBroker(binary, tmp_path / "m", port=port)
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        ingest = accounts(out)["ingest"]
        eventually(
            lambda: probe.can_connect(ingest["username"], ingest["password"]), 10, "the compose broker"
        )
        assert not probe.can_connect(None, None)
    finally:
        process.terminate()
        process.wait(10)
