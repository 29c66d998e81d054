"""Physics-like behaviour of the simulated instruments, their faults, and determinism."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent import protocol
from simulators.devices import DEVICE_TYPES, DeviceError, make_device
from simulators.devices.base import STATES, Device, FieldValue
from simulators.devices.fermenter import Fermenter
from simulators.devices.furnace import Furnace

SHORT_RUN: dict[str, dict[str, Any]] = {
    "fermenter": {"sterilize_hold_s": 300, "run_s": 1800, "harvest_s": 300, "cip_s": 600},
    "spray_dryer": {"preheat_s": 600, "run_s": 1800, "wash_s": 600},
    "freeze_dryer": {
        "load_s": 300,
        "freeze_s": 1800,
        "primary_s": 3600,
        "secondary_s": 1800,
        "defrost_s": 600,
    },
    "furnace": {"program": [(20.0, 400.0, 10.0)], "purge_s": 120},
    "hplc": {"samples": 3, "injection_s": 300, "equilibrate_s": 300, "flush_s": 300},
    "am_cell": {"layers": 20, "layer_s": 20, "cooldown_s": 600},
}


def run_until(device: Device, pred, limit_s: float, dt: float = 1.0) -> float | None:  # type: ignore[no-untyped-def]
    while device.t < limit_s:
        device.tick(dt)
        device.read()
        if pred(device):
            return device.t
    return None


@pytest.mark.parametrize("volume", [5, 50, 500])
def test_fermenter_reaches_sterilization_temperature_within_heat_up_time(volume: int) -> None:
    f = Fermenter("F", seed=1, attributes={"volume_l": volume})
    f.start_run()
    reached = run_until(f, lambda d: d.read()["temperature_c"] >= 120.0, f.heat_up_s * 2)
    assert reached is not None and reached <= f.heat_up_s
    assert f.read()["state"] == "setup" and f.read()["phase"] == "sterilize"


def test_fermenter_holds_culture_setpoint_and_doses_base_as_it_acidifies() -> None:
    f = Fermenter("F", seed=2, attributes={"volume_l": 5})
    f.start_run(sterilize_hold_s=300, run_s=12 * 3600)
    assert run_until(f, lambda d: d.phase == "run", 6000) is not None
    run_until(f, lambda d: False, f.t + 1800)
    temps = []
    while f.t < 6 * 3600:
        f.tick(10)
        temps.append(float(f.read()["temperature_c"]))
    assert max(abs(t - 37.0) for t in temps) < 0.5
    fields = f.read()
    assert fields["state"] == "running" and float(fields["base_ml"]) > 0
    assert 6.8 < float(fields["ph"]) < 7.2
    assert float(fields["do_pct"]) < 95  # the growing culture draws oxygen
    assert float(fields["power_kw"]) > 0


@pytest.mark.parametrize("device_type", sorted(DEVICE_TYPES))
def test_every_device_runs_through_its_states_and_back_to_idle(device_type: str) -> None:
    d = make_device(device_type, "X-1", seed=3)
    assert d.read()["state"] == "idle"
    d.start_run(**SHORT_RUN[device_type])
    seen: list[object] = []
    while d.t < 48 * 3600:
        d.tick(5.0)
        state = d.read()["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if d.t > 60 and state == "idle":
            break
    assert seen[-1] == "idle", seen
    assert {"setup", "running", "cleaning"} <= set(seen), seen
    assert all(s in STATES for s in seen)
    events = d.drain_events()
    assert [e["code"] for e in events if e["kind"] == "state"][-1] == "idle"
    for e in events:  # every event is a valid contract payload
        protocol.parse_payload("event", e)
    fields = d.read()
    for s in d.signals:
        assert isinstance(fields[s.name], float), s.name


def test_furnace_follows_its_programme_and_alarms_above_its_limit() -> None:
    f = Furnace("TF-1", seed=4, attributes={"max_temp_c": 1200})
    f.start_run(program=[(10.0, 600.0, 30.0)], purge_s=60)
    run_until(f, lambda d: d.read()["setpoint_c"] >= 600.0, 6000)
    run_until(f, lambda d: False, f.t + 900)
    assert abs(float(f.read()["temperature_c"]) - 600.0) < 5.0
    assert not f.alarms
    f.inject_fault("over_temperature")
    t_alarm = run_until(f, lambda d: "over_temperature" in d.alarms, f.t + 3600)
    assert t_alarm is not None
    assert float(f.read()["temperature_c"]) > 600.0 + 50.0 or float(f.read()["temperature_c"]) > 1200.0
    events = f.drain_events()
    alarm = [e for e in events if e["kind"] == "alarm" and e["code"] == "over_temperature"]
    assert alarm and alarm[0]["severity"] == "critical"


def test_furnace_high_high_limit_trips_to_fault() -> None:
    f = Furnace("TF-1", seed=4, attributes={"max_temp_c": 800})
    f.start_run(program=[(10.0, 700.0, 600.0)], purge_s=60)
    f.inject_fault("over_temperature")
    assert run_until(f, lambda d: d.state == "fault", 4 * 3600) is not None
    assert float(f.read()["temperature_c"]) > 800.0
    assert any(e["kind"] == "fault" and e["code"] == "over_temperature" for e in f.drain_events())
    peak = float(f.read()["temperature_c"])
    run_until(f, lambda d: False, f.t + 1800)
    assert float(f.read()["temperature_c"]) < peak  # the interlock cut the heater
    with pytest.raises(DeviceError):
        f.start_run()
    f.reset()
    assert f.state == "idle"


def test_sensor_drift_and_stuck_value_show_in_the_signal() -> None:
    a = Fermenter("F", seed=5)
    b = Fermenter("F", seed=5)
    for d in (a, b):
        d.start_run()
        d.tick(1200)
    a.inject_fault("sensor_drift")
    for d in (a, b):
        d.tick(600)
    offset = float(a.read()["temperature_c"]) - float(b.read()["temperature_c"])
    assert offset == pytest.approx(a.drift_per_s * 600, abs=0.5)

    c = Fermenter("F", seed=6)
    c.start_run()
    c.tick(60)
    c.inject_fault("stuck_value", signal="agitation_rpm")
    stuck = c.read()["agitation_rpm"]
    values = set()
    for _ in range(30):
        c.tick(10)
        values.add(c.read()["agitation_rpm"])
    assert values == {stuck}


def test_power_loss_zeroes_power_and_faults_the_device() -> None:
    d = make_device("spray_dryer", "SD-1", seed=7)
    d.start_run()
    d.tick(600)
    assert float(d.read()["power_kw"]) > 5
    d.inject_fault("power_loss")
    d.tick(1)
    fields = d.read()
    assert fields["state"] == "fault" and fields["power_kw"] == 0.0
    assert any(e["code"] == "power_loss" for e in d.drain_events())
    d.reset()
    assert d.state == "idle"


def test_random_faults_are_seeded() -> None:
    def faults(seed: int) -> list[tuple[int, str]]:
        d = make_device("hplc", "H", seed=seed, fault_rate_per_h=2.0)
        d.start_run(samples=1000)
        for _ in range(5000):
            d.tick(1.0)
        return [(e["ts"], e["code"]) for e in d.drain_events() if e["kind"] == "fault"]

    assert faults(1) == faults(1)
    assert faults(1)  # ~2.7 expected in 5000 s


@pytest.mark.parametrize("device_type", sorted(DEVICE_TYPES))
def test_same_seed_same_trace(device_type: str) -> None:
    def trace(seed: int) -> list[dict[str, FieldValue]]:
        d = make_device(device_type, "X", seed=seed)
        d.start_run(**SHORT_RUN[device_type])
        out = []
        for _ in range(300):
            d.tick(2.0)
            out.append(dict(d.read()))
        return out

    assert trace(11) == trace(11)
    assert trace(11) != trace(12)


def test_commands_lock_setpoint_and_refusals() -> None:
    d = make_device("fermenter", "F5-1")
    d.handle_command("lock")
    with pytest.raises(DeviceError, match="locked"):
        d.start_run()
    d.handle_command("unlock")
    d.handle_command("setpoint", {"temperature_sp_c": 30})
    assert d.setpoints["temperature_sp_c"] == 30.0
    with pytest.raises(DeviceError, match="outside"):
        d.handle_command("setpoint", {"temperature_sp_c": 300})
    with pytest.raises(DeviceError, match="unknown setpoint"):
        d.handle_command("setpoint", {"nope": 1})
    with pytest.raises(DeviceError, match="unknown action"):
        d.handle_command("dance")


@pytest.mark.parametrize(
    ("device_type", "fault", "params", "alarm"),
    [
        ("hplc", "column_clog", {"samples": 100}, "pressure_high"),
        ("freeze_dryer", "vacuum_leak", {"load_s": 60, "freeze_s": 600}, "vacuum_loss"),
        ("am_cell", "oxygen_leak", {"layers": 1000}, "oxygen_high"),
        ("spray_dryer", "feed_blockage", {"preheat_s": 300}, "outlet_high"),
        ("fermenter", "agitator_failure", {"sterilize_hold_s": 60, "run_s": 30 * 3600}, "do_low"),
    ],
)
def test_process_faults_raise_their_alarm(
    device_type: str, fault: str, params: dict[str, Any], alarm: str
) -> None:
    d = make_device(device_type, "P-1", seed=8)
    d.start_run(**params)
    run_until(d, lambda x: x.state == "running", 20000, dt=5.0)
    if device_type == "fermenter":  # a grown culture needs the agitator
        run_until(d, lambda x: float(x.read()["biomass_od"]) > 5, 30 * 3600, dt=10.0)
    assert alarm not in d.alarms
    d.inject_fault(fault)
    assert run_until(d, lambda x: alarm in x.alarms, d.t + 6 * 3600, dt=5.0) is not None
    d.reset()
    assert fault not in d.faults


def test_unknown_fault_names_the_known_ones() -> None:
    with pytest.raises(DeviceError, match="column_clog"):
        make_device("hplc", "H").inject_fault("gremlins")


def test_spray_dryer_outlet_follows_the_feed_rate() -> None:
    d = make_device("spray_dryer", "SD-1", seed=4)
    d.start_run(preheat_s=900, run_s=6 * 3600)
    run_until(d, lambda x: x.phase == "dry", 3600)
    run_until(d, lambda x: False, d.t + 1800)
    outlet_20 = float(d.read()["outlet_temp_c"])
    d.handle_command("setpoint", {"feed_sp_l_h": 35})
    run_until(d, lambda x: False, d.t + 1800)
    assert float(d.read()["outlet_temp_c"]) < outlet_20 - 30  # more water to evaporate, colder outlet
    assert "outlet_low" in d.alarms
