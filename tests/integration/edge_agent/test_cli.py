"""`pilotshare edge-agent --config FILE` as a real process: bad configs, birth, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent import protocol
from tests.integration.edge_agent.helpers import Recorder

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PILOTSHARE = str(Path(sys.executable).parent / "pilotshare")


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("agent_id: a\nplatform: p\nresource: r\ndevice: {driver: sim}\nsampling: {hz: -1}\n")
    proc = subprocess.run([PILOTSHARE, "edge-agent", "--config", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "sampling.hz: must be > 0" in proc.stderr and "Traceback" not in proc.stderr


def test_runs_until_sigterm_and_leaves_an_offline_status(tmp_path: Path, recorder: Recorder) -> None:
    cfg = tmp_path / "agent.toml"
    username, password = recorder.broker.login("jinan-bio/TF-9")
    cfg.write_text(
        f'agent_id = "edge-cli"\nplatform = "jinan-bio"\nresource = "TF-9"\n'
        f'[mqtt]\nurl = "{recorder.broker.url}"\nusername = "{username}"\npassword = "{password}"\n'
        f'[device]\ndriver = "sim"\n[device.sim]\ndevice_type = "furnace"\n'
        f'[sampling]\nhz = 10\nbatch_interval_s = 0.2\n[buffer]\ndir = "{tmp_path / "buf"}"\n'
    )
    proc = subprocess.Popen(
        [PILOTSHARE, "edge-agent", "--config", str(cfg)], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while len(recorder.telemetry()) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, "no telemetry from the agent"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped:" in err
    deadline = time.monotonic() + 5
    while not isinstance(recorder.on("status")[-1], protocol.StatusOffline):
        assert time.monotonic() < deadline, "no offline status"
        time.sleep(0.05)
    assert recorder.telemetry()[0].agent == "edge-cli"
