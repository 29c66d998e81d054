"""Process excursions: a furnace overheating and a fermenter's pH drifting really cross the demo's alarm
limits and recover by themselves; at random they come from a seeded stream of their own."""

from __future__ import annotations

import pytest

from simulators.devices.base import DeviceError
from simulators.devices.fermenter import Fermenter
from simulators.devices.furnace import Furnace
from simulators.devices.hplc import Hplc


def soaking_furnace(seed: int = 1, **kw: float) -> Furnace:
    furnace = Furnace("TF-1", seed=seed, **kw)
    furnace.start_run(program=[(50, 900, 120)], purge_s=10)
    while not (furnace.phase == "program" and abs(furnace.temp - 900) < 3):
        furnace.tick(1)
    return furnace


def running_fermenter(seed: int = 1, **kw: float) -> Fermenter:
    fermenter = Fermenter("F5-1", seed=seed, **kw)
    fermenter.start_run(sterilize_hold_s=60)
    while fermenter.phase != "run":
        fermenter.tick(1)
    return fermenter


def trace(device: Furnace | Fermenter, signal: str, seconds: int) -> list[float]:
    out = []
    for _ in range(seconds):
        device.tick(1)
        out.append(float(device.read()[signal]))
    return out


def test_an_overheating_furnace_passes_1000_c_and_comes_back_below_950_without_tripping() -> None:
    furnace = soaking_furnace()
    furnace.start_excursion(duration_s=300)
    temps = trace(furnace, "temperature_c", 900)
    above = [i for i, t in enumerate(temps) if t > 1000]
    assert len(above) > 60  # the demo rule asks for 30 s
    assert temps[-1] < 950 and furnace.state == "running"  # back on its soak, no trip


def test_a_fermenters_ph_drifts_below_6_5_and_the_base_pump_brings_it_back() -> None:
    fermenter = running_fermenter()
    fermenter.start_excursion(duration_s=400)
    ph = trace(fermenter, "ph", 1500)
    assert min(ph) < 6.0 and sum(p < 6.5 for p in ph) > 120  # the demo rule asks for 60 s
    assert ph[-1] > 6.6


def test_random_excursions_follow_the_seed_and_only_upset_running_processes() -> None:
    def starts(seed: int) -> list[float]:
        fermenter = running_fermenter(seed, excursion_rate_per_h=6.0)
        seen = []
        for _ in range(3 * 3600):
            fermenter.tick(1)
            if fermenter.excursion is not None and fermenter.excursion.started not in seen:
                seen.append(fermenter.excursion.started)
        return seen

    assert starts(3) == starts(3) and len(starts(3)) >= 2
    assert starts(3) != starts(4)
    idle = Fermenter("F5-1", seed=3, excursion_rate_per_h=1000.0)
    idle.tick(3600)
    assert idle.excursion is None


def test_excursions_leave_the_rest_of_the_trace_as_it_was() -> None:
    """Their own random stream: an idle fleet with excursions on is sample for sample the same."""
    plain, excursive = Furnace("TF-1", seed=5), Furnace("TF-1", seed=5, excursion_rate_per_h=50.0)
    assert trace(plain, "temperature_c", 600) == trace(excursive, "temperature_c", 600)


def test_a_type_without_excursions_refuses_one() -> None:
    with pytest.raises(DeviceError):
        Hplc("HPLC-1").start_excursion()
