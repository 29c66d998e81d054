"""HPLC: a sequence of injections, each a discrete chromatographic run.

Run: equilibrate (setup; pump on, pressure settles) -> inject samples one after another (running; each
injection lasts ``injection_s``, the detector shows peaks at fixed retention times and the sample
counter increments when it ends) -> flush (cleaning) -> idle. A clogged column shows as pressure
climbing past the instrument's limit; the over-temperature fault hits the column oven.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from simulators.devices.base import AMBIENT_C, Device, Phase, Setpoint, Signal, first_order

PEAKS = ((0.18, 120.0, 0.010), (0.42, 480.0, 0.015), (0.61, 60.0, 0.012))  # (fraction of run, mAU, width)


class Hplc(Device):
    device_type = "hplc"
    signals = (
        Signal("pressure_bar", "bar", "pump pressure", 10),
        Signal("flow_ml_min", "mL/min", "pump flow", 1000),
        Signal("column_temp_c", "°C", "column oven temperature", 10),
        Signal("detector_mau", "mAU", "UV detector absorbance", 10),
        Signal("sample_counter", "", "injections completed (lifetime)", 1),
        Signal("injection", "", "injection number within the sequence (0 = none)", 1),
    )
    setpoint_specs = (
        Setpoint("flow_sp_ml_min", "mL/min", 0.0, 5.0, 1.0, 1000),
        Setpoint("column_sp_c", "°C", 15.0, 80.0, 30.0, 10),
    )
    primary_signal = "pressure_bar"
    process_faults = ("column_clog",)
    phase_names = ("idle", "equilibrate", "inject", "flush", "fault", "maintenance")

    def __init__(self, code: str, seed: int = 0, attributes: Mapping[str, Any] | None = None, **kw: Any):
        super().__init__(code, seed, attributes, **kw)
        self.max_pressure_bar = float(self.attributes.get("max_pressure_bar", 600))
        self.pressure = 0.0
        self.flow = 0.0
        self.column = AMBIENT_C
        self.counter = 0
        self.injection = 0
        self.injections = 10
        self.injection_s = 600.0
        self.injection_elapsed = 0.0
        self.clog = 1.0

    def _run_plan(self, params: Mapping[str, Any]) -> list[Phase]:
        self.injections = int(params.get("samples", 10))
        self.injection_s = float(params.get("injection_s", 600.0))
        if self.injections < 1 or self.injection_s <= 0:
            raise ValueError("samples must be >= 1 and injection_s > 0")
        return [
            Phase("equilibrate", "setup", float(params.get("equilibrate_s", 900.0))),
            Phase("inject", "running", 0.0),
            Phase("flush", "cleaning", float(params.get("flush_s", 600.0))),
        ]

    def _on_phase(self, phase: str) -> None:
        if phase == "inject":
            self.injection, self.injection_elapsed = 1, 0.0
        else:
            self.injection = 0

    def _phase_complete(self, phase: str) -> bool:
        return phase != "inject" or self.injection > self.injections

    def _step(self, dt: float) -> None:
        pumping = self.powered and self.state in ("setup", "running", "cleaning")
        self.flow = first_order(self.flow, self.setpoints["flow_sp_ml_min"] if pumping else 0.0, 4.0, dt)
        oven = self.setpoints["column_sp_c"] if self.powered and self.state != "idle" else AMBIENT_C
        if self.heater_stuck and self.powered:
            oven = 95.0
        self.column = first_order(self.column, oven, 240.0, dt)
        # gradient: organic share rises through each injection, lowering viscosity
        gradient = self.injection_elapsed / self.injection_s if self.phase == "inject" else 0.0
        base = 0.38 * self.max_pressure_bar * (1.0 - 0.3 * gradient) * (1.0 - 0.004 * (self.column - 30))
        # a clogging column (frit, precipitated buffer) raises back-pressure until the limit trips the pump
        self.clog = min(3.0, self.clog + 0.004 * dt) if "column_clog" in self.faults else 1.0
        self.pressure = first_order(self.pressure, base * self.flow * self.clog, 3.0, dt)
        if self.phase == "inject" and self.injection <= self.injections:
            self.injection_elapsed += dt
            if self.injection_elapsed >= self.injection_s:
                self.counter += 1
                self.injection += 1
                self.injection_elapsed = 0.0
        self.power_kw = 0.15 + (0.35 if pumping else 0.0) + 0.4 * max(0.0, (self.column - AMBIENT_C) / 60.0)

    def _detector(self) -> float:
        if self.phase != "inject":
            return 0.0
        x = self.injection_elapsed / self.injection_s
        return sum(h * math.exp(-0.5 * ((x - c) / w) ** 2) for c, h, w in PEAKS)

    def _measure(self) -> dict[str, float]:
        n = self.noise
        return {
            "pressure_bar": max(0.0, self.pressure + n(0.5)) if self.flow > 0.01 else 0.0,
            "flow_ml_min": self.flow,
            "column_temp_c": self.column + n(0.05),
            "detector_mau": self._detector() + n(0.2),
            "sample_counter": float(self.counter),
            "injection": float(self.injection if self.phase == "inject" else 0),
        }

    def _check_alarms(self) -> None:
        self._alarm(
            "pressure_high",
            self.pressure > self.max_pressure_bar,
            "critical",
            f"pump pressure {self.pressure:.0f} bar above {self.max_pressure_bar:.0f} bar (clogged column?)",
        )
        if self.pressure > self.max_pressure_bar * 1.05 and self.state != "fault":
            self.trip("pressure_high", "pressure limit: pump stopped")
        self._alarm(
            "over_temperature",
            self.column > 85.0,
            "critical",
            f"column oven {self.column:.1f} °C above 85 °C",
        )
        if self.column > 90.0 and self.state != "fault":
            self.trip("over_temperature", "column oven high-high: heater off")
            self.heater_stuck = False
