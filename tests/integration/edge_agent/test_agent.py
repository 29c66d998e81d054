"""An edge agent reading simulated instruments through real OPC UA and Modbus servers, publishing to a real
Mosquitto: contract payloads, increasing seq, nothing lost across a broker outage or an agent restart,
commands reaching the instrument and acknowledged."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent import protocol
from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings, parse_settings
from simulators.devices import make_device
from simulators.devices.base import Device
from simulators.servers.modbus import ModbusDeviceServer, register_map
from simulators.servers.opcua import NAMESPACE, OpcUaDeviceServer
from tests.integration.edge_agent.helpers import Recorder, until
from tests.support.mosquitto import MosquittoBroker, authorized_command, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PLATFORM = "jinan-bio"


def modbus_section(device_type: str, port: int) -> dict[str, Any]:
    """The agent's Modbus map generated from the simulators' published register map."""
    registers: list[dict[str, Any]] = []
    for entry in register_map(device_type)["input_registers"]:
        reg = {"name": entry["name"], "address": entry["address"], "type": entry["type"]}
        if "bits" in entry:
            reg["bits"] = {k: entry["bits"][k] for k in ("powered", "alarm", "locked")}
        if "enum" in entry:
            reg["enum"] = entry["enum"]
        if "scale" in entry:
            reg["scale"] = entry["scale"]
        if entry["name"] != "heartbeat":
            registers.append(reg)
    setpoints = [
        {
            "name": e["name"],
            "address": e["address"],
            "scale": e["scale"],
            "low": e["range"][0],
            "high": e["range"][1],
        }
        for e in register_map(device_type)["holding_registers"][2:]
    ]
    return {
        "host": "127.0.0.1",
        "port": port,
        "timeout_s": 1,
        "registers": registers,
        "commands": {"address": 0, "lock": 4, "unlock": 5},
        "setpoints": setpoints,
    }


def opcua_section(device: Device, endpoint: str) -> dict[str, Any]:
    code = device.code
    nodes = [
        {"name": "state", "node": f"s={code}.State"},
        {"name": "phase", "node": f"s={code}.Phase"},
        {"name": "locked", "node": f"s={code}.Locked"},
        {"name": "alarm", "node": f"s={code}.Alarm"},
        {"name": "power_kw", "node": f"s={code}.PowerKw"},
        *({"name": s.name, "node": f"s={code}.{s.name}", "unit": s.unit} for s in device.signals),
    ]
    return {"endpoint": endpoint, "namespace": NAMESPACE, "nodes": nodes, "methods": {"object": f"s={code}"}}


def settings_for(
    tmp_path: Path,
    broker: MosquittoBroker,
    resource: str,
    device: dict[str, Any],
    hz: float = 20,
    agent_id: str = "edge-t",
) -> AgentSettings:
    username, password = broker.login(f"{PLATFORM}/{resource}")
    mqtt = {"url": broker.url, "username": username, "password": password}
    return parse_settings(
        {
            "agent_id": agent_id,
            "platform": PLATFORM,
            "resource": resource,
            "mqtt": {**mqtt, "reconnect_min_s": 1, "reconnect_max_s": 1},
            "device": {**device, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
            "sampling": {"hz": hz, "batch_interval_s": 0.2},
            "buffer": {"dir": str(tmp_path / "buffer")},
        }
    )


async def tick(device: Device, server: Any, hz: float = 20.0) -> None:
    """The instrument lives on: physics advances (1 s of process per tick) and the server shows it."""
    while True:
        device.tick(1.0)
        await server.update()
        await asyncio.sleep(1 / hz)


class Running:
    """An agent task in this event loop, with its stop event."""

    def __init__(self, settings: AgentSettings) -> None:
        self.agent = Agent(settings)
        self.agent.stats.keep_ts = True
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.agent.run(self.stop))

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 20)


def ack_for(rec: Recorder, cmd_id: str) -> protocol.CommandAck | None:
    return next((a for a in rec.on("cmd/ack") if a.id == cmd_id), None)


async def command(rec: Recorder, resource: str, payload: dict[str, Any] | bytes) -> protocol.CommandAck:
    """Send as the backend does (a dict gets the authority the agent requires) and wait for the ack."""
    if isinstance(payload, bytes):
        raw = payload
    else:
        authority = json.loads(authorized_command("x", "lock"))
        granted = {"on_behalf_of": authority["on_behalf_of"], "expires": authority["expires"]}
        raw = json.dumps({**granted, **payload}).encode()
    sent = json.loads(raw)
    cmd_id = sent.get("id", "unknown") if isinstance(sent, dict) else "unknown"
    before = len([a for a in rec.on("cmd/ack") if a.id == cmd_id])
    await asyncio.to_thread(rec.publish, protocol.cmd_topic(PLATFORM, resource), raw)
    acks = await until(
        lambda: [a for a in rec.on("cmd/ack") if a.id == cmd_id][before:], 10, f"ack of {cmd_id}"
    )
    ack: protocol.CommandAck = acks[0]
    return ack


def check_delivery(rec: Recorder, agent: Agent, period_ns: int) -> None:
    """Every sample arrived (at least once), seq counts up without holes, and every sample sits on the
    sampling grid. A loaded machine may make the agent skip ticks (it never invents timestamps); each
    hole in the grid must then be a tick the agent counted as skipped."""
    produced = agent.stats.sample_ts
    received = rec.sample_ts()
    assert set(produced) <= received, f"{len(set(produced) - received)} samples lost"
    seqs = [t.seq for t in rec.telemetry()]
    first_seen = list(dict.fromkeys(seqs))
    assert first_seen == sorted(first_seen), "seq went backwards"
    assert set(seqs) == set(range(max(seqs) + 1)), "a seq is missing"
    gaps = [b - a for a, b in itertools.pairwise(sorted(received))]
    assert all(gap % period_ns == 0 for gap in gaps), "a sample is off the grid"
    holes = sum(gap // period_ns - 1 for gap in gaps)
    assert holes == agent.stats.ticks_skipped or (
        agent.stats.read_errors and holes >= agent.stats.ticks_skipped
    )


async def test_modbus_device_through_a_broker_outage_and_a_lock(
    tmp_path: Path, mosquitto: MosquittoBroker, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = make_device("fermenter", "F5-1", seed=3)
    device.start_run()
    server = ModbusDeviceServer(device, port=free_port())
    await server.start()
    ticker = asyncio.create_task(tick(device, server))
    section = modbus_section("fermenter", server.port)
    # a holding register read back as a field: the pH setpoint (holding 6-7, x1000)
    section["registers"].append({"name": "ph_sp", "table": "holding", "address": 6, "scale": 1000})
    settings = settings_for(tmp_path, mosquitto, "F5-1", {"driver": "modbus", "modbus": section})
    run = Running(settings)
    agent = run.agent
    try:
        await until(lambda: len(recorder.telemetry()) >= 3, what="telemetry")
        status = recorder.on("status")
        assert isinstance(status[-1], protocol.StatusOnline)
        assert status[-1].agent == "edge-t" and status[-1].fields["driver"] == "modbus"
        await until(lambda: recorder.on("status")[-1].fields.get("instrument") == "online", what="birth")
        sample = recorder.telemetry()[-1].samples[-1].fields
        assert sample["state"] == "setup" and sample["phase"] == "sterilize" and sample["powered"] is True
        assert sample["temperature_c"] == pytest.approx(device.read()["temperature_c"], abs=30)
        assert isinstance(sample["ph"], float) and sample["locked"] is False

        # broker outage: sampling goes on into the disk buffer.
        # The fixture's broker does not bring back the subscriber's session after a restart, so whatever the
        # agent replays before the subscriber is back would be lost to the subscriber (not to the broker).
        # Hold the agent's sends from before the stop until the subscriber has reconnected.
        pub = agent.publisher
        assert pub is not None and agent.buffer is not None
        pump = pub.pump
        monkeypatch.setattr(pub, "pump", lambda: None)
        await until(lambda: not pub._inflight, what="nothing in flight before the stop")
        await asyncio.to_thread(mosquitto.stop)
        read_before = agent.stats.samples_read
        await until(lambda: agent.stats.samples_read >= read_before + 30, what="sampling while offline")
        assert not pub.connected and agent.buffer.count > 0
        recorder.subscribed.clear()
        await asyncio.to_thread(mosquitto.restart)
        await until(recorder.subscribed.is_set, what="subscriber reconnect")
        await until(lambda: pub.connected, what="agent reconnect")
        assert agent.buffer.count > 30 * 0.2  # the outage's batches waited in the buffer
        monkeypatch.setattr(pub, "pump", pump)
        pump()
        ack = await command(recorder, "F5-1", {"id": "lock-1", "action": "lock"})
        assert (ack.ok, ack.error) == (True, None) and device.locked
        await until(lambda: recorder.telemetry()[-1].samples[-1].fields["locked"] is True, what="locked seen")
        refused = await command(recorder, "F5-1", {"id": "sp-1", "action": "setpoint", "args": {"ph_sp": 12}})
        assert refused.ok is False and "ph_sp: 12 outside 3.0..9.0" in (refused.error or "")
        ok = await command(recorder, "F5-1", {"id": "sp-2", "action": "setpoint", "args": {"ph_sp": 6.5}})
        assert ok.ok and device.setpoints["ph_sp"] == pytest.approx(6.5)
        await until(lambda: recorder.telemetry()[-1].samples[-1].fields["ph_sp"] == 6.5, what="setpoint seen")
        produced = list(agent.stats.sample_ts)
        await until(lambda: set(produced) <= recorder.sample_ts(), 15, "the buffered samples")
    finally:
        await run.finish()
        ticker.cancel()
        await server.stop()
    await until(lambda: set(agent.stats.sample_ts) <= recorder.sample_ts(), what="the last batch")
    check_delivery(recorder, agent, round(1e9 / 20))
    await until(lambda: isinstance(recorder.on("status")[-1], protocol.StatusOffline), what="offline status")
    kinds = {(e.kind, e.code) for e in recorder.on("event")}
    assert ("fault", "instrument_online") in kinds


async def test_opcua_device_readings_and_commands(
    tmp_path: Path, mosquitto: MosquittoBroker, recorder: Recorder
) -> None:
    device = make_device("spray_dryer", "SD-1", seed=4)
    device.start_run()
    server = OpcUaDeviceServer([device], port=free_port())
    await server.start()
    ticker = asyncio.create_task(tick(device, server))
    settings = settings_for(
        tmp_path,
        mosquitto,
        "SD-1",
        {"driver": "opcua", "opcua": opcua_section(device, server.endpoint)},
        hz=10,
    )
    run = Running(settings)
    try:
        await until(lambda: len(recorder.telemetry()) >= 3, what="telemetry")
        fields = recorder.telemetry()[-1].samples[-1].fields
        assert fields["state"] in ("setup", "running") and isinstance(fields["inlet_temp_c"], float)
        assert set(fields) >= {s.name for s in device.signals} | {"state", "phase", "locked", "alarm"}

        ack = await command(recorder, "SD-1", {"id": "c-lock", "action": "lock"})
        assert ack.ok and device.locked
        await until(lambda: recorder.telemetry()[-1].samples[-1].fields["locked"] is True, what="locked seen")
        ack = await command(
            recorder, "SD-1", {"id": "c-sp", "action": "setpoint", "args": {"inlet_sp_c": 200}}
        )
        assert ack.ok and device.setpoints["inlet_sp_c"] == 200
        ack = await command(recorder, "SD-1", {"id": "c-bad", "action": "setpoint", "args": {"nope": 1}})
        assert ack.ok is False and "refused" in (ack.error or "")
        ack = await command(recorder, "SD-1", b'{"action": "lock"}')
        assert ack.ok is False and "id" in (ack.error or "")
        ack = await command(recorder, "SD-1", {"id": "c-unlock", "action": "unlock"})
        assert ack.ok and not device.locked
    finally:
        await run.finish()
        ticker.cancel()
        await server.stop()
    check_delivery(recorder, run.agent, round(1e9 / 10))


async def test_buffer_survives_an_agent_restart_while_the_broker_is_down(
    tmp_path: Path, mosquitto: MosquittoBroker, recorder: Recorder
) -> None:
    sim = {"driver": "sim", "sim": {"device_type": "furnace", "code": "TF-1", "speed": 10}}
    settings = settings_for(tmp_path, mosquitto, "TF-1", sim)
    await asyncio.to_thread(mosquitto.stop)
    first = Running(settings)
    await until(lambda: first.agent.stats.messages_buffered >= 4, what="buffered batches")
    await first.finish()
    produced_offline = list(first.agent.stats.sample_ts)
    assert produced_offline and first.agent.publisher is not None and first.agent.publisher.connects == 0

    recorder.subscribed.clear()
    await asyncio.to_thread(mosquitto.restart)
    await until(recorder.subscribed.is_set, what="subscriber reconnect")
    second = Running(settings)
    await until(lambda: len(second.agent.stats.sample_ts) >= 10, what="second run sampling")
    await second.finish()
    everything = produced_offline + second.agent.stats.sample_ts
    await until(lambda: set(everything) <= recorder.sample_ts(), what="both runs' samples")
    seqs = [t.seq for t in recorder.telemetry()]
    assert set(seqs) == set(range(max(seqs) + 1))  # the second run went on counting from the first
    by_seq = {t.seq: t for t in recorder.telemetry()}
    assert {s.ts_ns for s in by_seq[0].samples} <= set(produced_offline)


async def test_instrument_drop_is_reported_and_recovered(
    tmp_path: Path, mosquitto: MosquittoBroker, recorder: Recorder
) -> None:
    device = make_device("hplc", "HPLC-1", seed=5)
    port = free_port()
    server = ModbusDeviceServer(device, port=port)
    await server.start()
    modbus = {"driver": "modbus", "modbus": modbus_section("hplc", port)}
    settings = settings_for(tmp_path, mosquitto, "HPLC-1", modbus)
    run = Running(settings)
    try:
        await until(lambda: len(recorder.telemetry()) >= 2, what="telemetry")
        await server.stop()
        await until(
            lambda: any(e.code == "instrument_offline" for e in recorder.on("event")), what="offline event"
        )
        await until(lambda: recorder.on("status")[-1].fields.get("instrument") == "offline", what="status")
        ack = await command(recorder, "HPLC-1", {"id": "lk", "action": "lock"})
        assert ack.ok is False and "unreachable" in (ack.error or "")
        server = ModbusDeviceServer(device, port=port)
        await server.start()
        await until(
            lambda: recorder.on("status")[-1].fields.get("instrument") == "online", what="back online"
        )
        n = len(recorder.telemetry())
        await until(lambda: len(recorder.telemetry()) > n + 2, what="telemetry again")
    finally:
        await run.finish()
        await server.stop()


async def test_only_the_backends_unexpired_commands_are_obeyed(
    tmp_path: Path, mosquitto: MosquittoBroker, recorder: Recorder
) -> None:
    sim = {"driver": "sim", "sim": {"device_type": "furnace", "code": "TF-3"}}
    run = Running(settings_for(tmp_path, mosquitto, "TF-3", sim))
    topic = protocol.cmd_topic(PLATFORM, "TF-3")
    try:
        await until(lambda: recorder.on("status"), what="birth")
        # strangers: another instrument's agent, and ingest; the broker drops their commands
        for who in (f"{PLATFORM}/TF-4", "ingest"):
            await asyncio.to_thread(recorder.publish, topic, authorized_command(f"from-{who}", "lock"), who)
        expired = await command(recorder, "TF-3", authorized_command("late", "lock", valid_s=-5))
        assert expired.ok is False and "expired" in (expired.error or "")
        anonymous = await command(recorder, "TF-3", protocol.Command(id="who", action="lock").to_json())
        assert anonymous.ok is False and "on_behalf_of" in (anonymous.error or "")
        ok = await command(recorder, "TF-3", authorized_command("mine", "lock"))
        assert ok.ok
        # acks come in order: had a stranger's command reached the agent, its ack would be here by now
        assert {a.id for a in recorder.on("cmd/ack")} == {"late", "who", "mine"}
    finally:
        await run.finish()
