# asyncua annotates NodeId with NewType aliases that plain str/int satisfy at run time.
# mypy: disable-error-code="arg-type,attr-defined"
"""Every device type read through a real OPC UA client and a real Modbus TCP client."""

from __future__ import annotations

import pytest

from simulators.devices import DEVICE_TYPES, make_device
from simulators.devices.base import STATES
from simulators.servers.modbus import IR_SIGNALS, ModbusDeviceServer, from_words, register_map, to_words
from simulators.servers.opcua import NAMESPACE, OpcUaDeviceServer
from tests.support.mosquitto import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_opcua_serves_every_device_with_units_and_methods() -> None:
    from asyncua import Client, ua

    devices = [make_device(t, f"D-{t}", seed=1) for t in sorted(DEVICE_TYPES)]
    for d in devices:
        d.start_run()
        d.tick(600)
    server = OpcUaDeviceServer(devices, port=free_port())
    await server.start()
    try:
        async with Client(server.endpoint, timeout=10) as client:
            idx = await client.get_namespace_index(NAMESPACE)
            for d in devices:
                fields = d.read()
                for s in d.signals:
                    node = client.get_node(ua.NodeId(f"{d.code}.{s.name}", idx))
                    assert await node.read_value() == pytest.approx(fields[s.name]), (d.code, s.name)
                    if s.unit:  # counters (layer, segment, sample_counter) have no unit
                        eu = await (await node.get_child(["0:EngineeringUnits"])).read_value()
                        assert eu.DisplayName.Text == s.unit
                state = client.get_node(ua.NodeId(f"{d.code}.State", idx))
                assert await state.read_value() == fields["state"]
                dtype = await client.get_node(ua.NodeId(f"{d.code}.DeviceType", idx)).read_value()
                assert dtype == d.device_type

            furnace = next(d for d in devices if d.device_type == "furnace")
            obj = client.get_node(ua.NodeId(furnace.code, idx))
            await obj.call_method(f"{idx}:StopRun")
            await obj.call_method(f"{idx}:SetSetpoint", "gas_flow_sp_lpm", 2.5)
            for _ in range(2000):
                furnace.tick(5)
                if furnace.state == "idle":
                    break
            await server.update()
            assert await client.get_node(ua.NodeId(f"{furnace.code}.State", idx)).read_value() == "idle"
            sp = client.get_node(ua.NodeId(f"{furnace.code}.Setpoints.gas_flow_sp_lpm", idx))
            assert await sp.read_value() == 2.5
            await obj.call_method(f"{idx}:Lock")
            with pytest.raises(ua.UaStatusCodeError):
                await obj.call_method(f"{idx}:StartRun")  # locked: refused with a status code
            await obj.call_method(f"{idx}:Unlock")
            await obj.call_method(f"{idx}:StartRun")
            await server.update()
            assert await client.get_node(ua.NodeId(f"{furnace.code}.State", idx)).read_value() == "setup"
            await obj.call_method(f"{idx}:InjectFault", "over_temperature")
            for _ in range(4000):
                furnace.tick(5)
                if furnace.state == "fault":
                    break
            await server.update()
            assert await client.get_node(ua.NodeId(f"{furnace.code}.State", idx)).read_value() == "fault"
            assert await client.get_node(ua.NodeId(f"{furnace.code}.Alarm", idx)).read_value() is True
            with pytest.raises(ua.UaStatusCodeError):
                await obj.call_method(f"{idx}:InjectFault", "gremlins")
    finally:
        await server.stop()


@pytest.mark.parametrize("device_type", sorted(DEVICE_TYPES))
async def test_modbus_register_map_matches_the_device(device_type: str) -> None:
    from pymodbus.client import AsyncModbusTcpClient

    d = make_device(device_type, "M-1", seed=2)
    d.start_run()
    d.tick(900)
    server = ModbusDeviceServer(d, port=free_port())
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=5)
    try:
        assert await client.connect()
        n = IR_SIGNALS + 2 * len(d.signals)
        rr = await client.read_input_registers(0, count=n, device_id=1)
        assert not rr.isError()
        regs = rr.registers
        fields = d.read()
        assert STATES[regs[1]] == fields["state"]
        assert d.phase_names[regs[2]] == fields["phase"]
        assert regs[0] & 1 and regs[0] & (
            1 << {"setup": 2, "running": 1, "cleaning": 3}[str(fields["state"])]
        )
        assert from_words(regs[4], regs[5], 1000) == pytest.approx(fields["power_kw"], abs=1e-3)
        for i, s in enumerate(d.signals):
            value = from_words(regs[IR_SIGNALS + 2 * i], regs[IR_SIGNALS + 2 * i + 1], s.scale)
            assert value == pytest.approx(fields[s.name], abs=1.0 / s.scale), s.name
        # the published map (simulate register-map) decodes the same registers
        for entry in register_map(device_type)["input_registers"]:
            if entry["type"] == "int32":
                at = entry["address"]
                decoded = from_words(regs[at], regs[at + 1], entry["scale"])
                assert decoded == pytest.approx(fields[entry["name"]], abs=1.0 / entry["scale"])

        # command register: stop the run
        assert not (await client.write_register(0, 2, device_id=1)).isError()
        assert d.state in ("cleaning", "idle")
        # setpoint 0 as a 32-bit pair
        spec = d.setpoint_specs[0]
        value = (spec.low + spec.high) / 2
        assert not (await client.write_registers(2, list(to_words(value, spec.scale)), device_id=1)).isError()
        assert d.setpoints[spec.name] == pytest.approx(value, abs=1.0 / spec.scale)
        hr = await client.read_holding_registers(0, count=4, device_id=1)
        assert from_words(hr.registers[2], hr.registers[3], spec.scale) == pytest.approx(
            value, abs=1 / spec.scale
        )
        # refused: unknown command code and out-of-range setpoint give Modbus exceptions
        assert (await client.write_register(0, 99, device_id=1)).isError()
        too_high = list(to_words(spec.high + 1000, spec.scale))
        assert (await client.write_registers(2, too_high, device_id=1)).isError()
        # simulator-only fault injection through the command register: power loss
        assert not (await client.write_register(0, 13, device_id=1)).isError()
        rr = await client.read_input_registers(0, count=6, device_id=1)
        assert rr.registers[0] & (1 << 4) and not rr.registers[0] & 1  # fault, not powered
        assert (
            STATES[rr.registers[1]] == "fault" and from_words(rr.registers[4], rr.registers[5], 1000) == 0.0
        )
        assert not (await client.write_register(0, 3, device_id=1)).isError()  # reset
        rr = await client.read_input_registers(0, count=2, device_id=1)
        assert STATES[rr.registers[1]] == "idle"
    finally:
        client.close()
        await server.stop()


async def test_replayed_trace_is_served_over_modbus(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pymodbus.client import AsyncModbusTcpClient

    from simulators.replay import TraceDevice, record_device

    d = make_device("freeze_dryer", "FD-1", seed=3)
    d.start_run()
    record_device(d, tmp_path / "fd.csv", seconds=7200, hz=0.1)
    trace = TraceDevice.load(tmp_path / "fd.csv")
    server = ModbusDeviceServer(trace, port=free_port())
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=5)
    try:
        assert await client.connect()
        for _ in range(3):
            trace.tick(10.0)
            rr = await client.read_input_registers(0, count=IR_SIGNALS + 2 * len(trace.signals), device_id=1)
            fields = trace.read()
            shelf = from_words(rr.registers[IR_SIGNALS], rr.registers[IR_SIGNALS + 1], trace.signals[0].scale)
            assert shelf == pytest.approx(fields["shelf_temp_c"], abs=0.1)
        assert (await client.write_register(0, 1, device_id=1)).isError()  # a recording takes no commands
    finally:
        client.close()
        await server.stop()


def _free_block(n: int) -> int:
    """A base port with n free ports after it (best effort)."""
    import socket

    for _ in range(50):
        base = free_port()
        if base + n > 65000:
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                s.bind(("127.0.0.1", base + i))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


async def test_fleet_serve_mode_keeps_modbus_registers_live() -> None:
    import asyncio

    from pymodbus.client import AsyncModbusTcpClient

    from simulators.fleet import FleetOptions, serve_fleet
    from simulators.platform import build_fleet

    devices = build_fleet(3, seed=5)
    base = _free_block(3)
    stop = asyncio.Event()
    opts = FleetOptions(hz=20, duration=30, speed=60, seed=5, start_share=1.0, progress_every=100)
    task = asyncio.create_task(
        serve_fleet(devices, "modbus", opts, base_port=base, stop_event=stop, progress=lambda m: None)
    )
    client = AsyncModbusTcpClient("127.0.0.1", port=base + 2, timeout=5)
    try:
        for _ in range(50):
            if await client.connect():
                break
            await asyncio.sleep(0.1)
        first = await client.read_input_registers(0, count=4, device_id=1)
        await asyncio.sleep(0.5)
        later = await client.read_input_registers(0, count=4, device_id=1)
        assert later.registers[3] > first.registers[3]  # heartbeat: the fleet is ticking
        assert STATES[later.registers[1]] == devices[2].read()["state"]
    finally:
        client.close()
        stop.set()
        result = await task
    assert result.devices == 3 and result.samples_published > 0


async def test_a_bare_instrument_csv_replays_over_opcua(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from asyncua import Client, ua

    from simulators.replay import TraceDevice

    path = tmp_path / "real.csv"
    path.write_text("ts,temperature_c\n2026-12-01T08:00:00+08:00,20.5\n2026-12-01T08:00:01+08:00,20.7\n")
    trace = TraceDevice.load(path)
    server = OpcUaDeviceServer([trace], port=free_port())
    await server.start()
    try:
        async with Client(server.endpoint, timeout=10) as client:
            idx = await client.get_namespace_index(NAMESPACE)
            node = client.get_node(ua.NodeId("real.temperature_c", idx))
            assert await node.read_value() == 20.5
            trace.tick(1.0)
            await server.update()
            assert await node.read_value() == 20.7
    finally:
        await server.stop()
