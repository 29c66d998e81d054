"""Additive-manufacturing cell: laser powder-bed fusion (metal 3D printer).

The seed programme names high-end equipment and new materials beside biomedicine; this is the instrument
those pilot lines share. Run: inert (setup; argon purge until oxygen < 1000 ppm, build plate preheats) ->
build (running; each layer is laser exposure then recoat, ``layer`` counts up) -> cool-down and
depowdering (cleaning) -> idle. Oxygen above 1000 ppm during a build is an alarm and stops the laser;
the over-temperature fault hits the build-plate heater.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulators.devices.base import AMBIENT_C, Device, Phase, Setpoint, Signal, first_order

AIR_O2_PPM = 209_000.0


class AmCell(Device):
    device_type = "am_cell"
    signals = (
        Signal("laser_power_w", "W", "laser output power", 10),
        Signal("oxygen_ppm", "ppm", "build chamber oxygen", 1),
        Signal("plate_temp_c", "°C", "build plate temperature", 10),
        Signal("layer", "", "current layer (0 = not building)", 1),
        Signal("argon_flow_lpm", "L/min", "argon flow", 100),
    )
    setpoint_specs = (
        Setpoint("laser_sp_w", "W", 50.0, 400.0, 280.0, 10),
        Setpoint("plate_sp_c", "°C", 20.0, 200.0, 80.0, 10),
    )
    primary_signal = "oxygen_ppm"
    process_faults = ("oxygen_leak",)
    phase_names = ("idle", "inert", "build", "cooldown", "fault", "maintenance")

    def __init__(self, code: str, seed: int = 0, attributes: Mapping[str, Any] | None = None, **kw: Any):
        super().__init__(code, seed, attributes, **kw)
        self.laser = 0.0
        self.o2 = AIR_O2_PPM
        self.plate = AMBIENT_C
        self.layer = 0
        self.layers = 500
        self.layer_s = 30.0
        self.layer_elapsed = 0.0
        self.argon = 0.0

    def _run_plan(self, params: Mapping[str, Any]) -> list[Phase]:
        self.layers = int(params.get("layers", 500))
        self.layer_s = float(params.get("layer_s", 30.0))
        return [
            Phase("inert", "setup", 0.0),
            Phase("build", "running", 0.0),
            Phase("cooldown", "cleaning", float(params.get("cooldown_s", 3600.0))),
        ]

    def _on_phase(self, phase: str) -> None:
        self.layer = 1 if phase == "build" else 0
        self.layer_elapsed = 0.0

    def _phase_complete(self, phase: str) -> bool:
        if phase == "inert":
            return self.o2 < 500.0 and abs(self.plate - self.setpoints["plate_sp_c"]) < 5.0
        if phase == "build":
            return self.layer > self.layers
        return True

    def _step(self, dt: float) -> None:
        on = self.powered and self.state in ("setup", "running", "cleaning")
        purge = on and self.phase in ("inert", "build")
        self.argon = first_order(
            self.argon, (30.0 if self.phase == "inert" else 8.0) if purge else 0.0, 5.0, dt
        )
        # purge dilutes oxygen exponentially; a tight chamber leaks air back slowly
        o2_target = 50.0 if purge else AIR_O2_PPM
        if purge and "oxygen_leak" in self.faults:  # a leaking glove port or filter seal
            o2_target = 5000.0
        self.o2 = first_order(self.o2, o2_target, 240.0 if purge else 1800.0, dt)
        plate_target = self.setpoints["plate_sp_c"] if on and self.phase != "cooldown" else AMBIENT_C
        if self.heater_stuck and self.powered:
            plate_target = 400.0
        self.plate = first_order(self.plate, plate_target, 400.0, dt)
        self.laser = 0.0
        if self.phase == "build" and self.powered and self.layer <= self.layers and self.o2 < 1000.0:
            self.layer_elapsed += dt
            exposing = self.layer_elapsed < 0.7 * self.layer_s  # the rest is recoating
            self.laser = self.setpoints["laser_sp_w"] if exposing else 0.0
            if self.layer_elapsed >= self.layer_s:
                self.layer += 1
                self.layer_elapsed = 0.0
        heater = 1.5 if self.plate < plate_target - 1 else 0.4 if on else 0.0
        self.power_kw = 0.5 + self.laser / 1000.0 * 4.0 + (heater if on or self.heater_stuck else 0.0)
        self.power_kw += 0.6 if purge else 0.0  # gas circulation blower

    def _measure(self) -> dict[str, float]:
        n = self.noise
        return {
            "laser_power_w": max(0.0, self.laser + n(1.0)) if self.laser > 0 else 0.0,
            "oxygen_ppm": max(0.0, self.o2 * (1.0 + n(0.01))),
            "plate_temp_c": self.plate + n(0.2),
            "layer": float(self.layer if self.phase == "build" else 0),
            "argon_flow_lpm": max(0.0, self.argon + n(0.05)) if self.argon > 0.01 else 0.0,
        }

    def _check_alarms(self) -> None:
        self._alarm(
            "oxygen_high",
            self.phase == "build" and self.o2 > 1000.0,
            "critical",
            f"oxygen {self.o2:.0f} ppm above 1000 ppm during build: laser interlocked",
        )
        self._alarm(
            "over_temperature",
            self.plate > 250.0,
            "critical",
            f"build plate {self.plate:.0f} °C above 250 °C",
        )
        if self.plate > 270.0 and self.state != "fault":
            self.trip("over_temperature", "plate heater high-high: heater off")
            self.heater_stuck = False
