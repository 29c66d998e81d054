"""Pilot freeze dryer (lyophilizer).

Cycle: load (setup) -> freeze (shelves to -40 °C at atmospheric pressure) -> primary drying (vacuum to
~10 Pa, shelves warmed to -20 °C, ice sublimes) -> secondary drying (~5 Pa, shelves +25 °C) -> defrost
(cleaning; condenser defrost, chamber vented) -> idle. Pressure is followed on a log scale, as a Pirani
gauge shows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from simulators.devices.base import AMBIENT_C, Device, Phase, Setpoint, Signal, first_order

ATM_PA = 101_325.0


class FreezeDryer(Device):
    device_type = "freeze_dryer"
    signals = (
        Signal("shelf_temp_c", "°C", "shelf temperature", 10),
        Signal("product_temp_c", "°C", "product probe temperature", 10),
        Signal("condenser_temp_c", "°C", "ice condenser temperature", 10),
        Signal("chamber_pressure_pa", "Pa", "chamber pressure (Pirani)", 10),
        Signal("ice_remaining_pct", "%", "ice left in the product", 10),
    )
    setpoint_specs = (
        Setpoint("freeze_sp_c", "°C", -60.0, -10.0, -40.0, 10),
        Setpoint("primary_sp_c", "°C", -40.0, 10.0, -20.0, 10),
        Setpoint("secondary_sp_c", "°C", 0.0, 50.0, 25.0, 10),
        Setpoint("primary_pressure_pa", "Pa", 2.0, 60.0, 10.0, 10),
    )
    primary_signal = "shelf_temp_c"
    process_faults = ("vacuum_leak",)
    phase_names = ("idle", "load", "freeze", "primary", "secondary", "defrost", "fault", "maintenance")

    def __init__(self, code: str, seed: int = 0, attributes: Mapping[str, Any] | None = None, **kw: Any):
        super().__init__(code, seed, attributes, **kw)
        self.min_temp_c = float(self.attributes.get("min_temp_c", -55))
        self.shelf = AMBIENT_C
        self.product = AMBIENT_C
        self.condenser = AMBIENT_C
        self.pressure = ATM_PA
        self.ice = 0.0
        self.pressure_limit_pa = 60.0

    def _run_plan(self, params: Mapping[str, Any]) -> list[Phase]:
        self.ice = 100.0
        return [
            Phase("load", "setup", float(params.get("load_s", 900.0))),
            Phase("freeze", "running", float(params.get("freeze_s", 3 * 3600.0))),
            Phase("primary", "running", float(params.get("primary_s", 20 * 3600.0))),
            Phase("secondary", "running", float(params.get("secondary_s", 6 * 3600.0))),
            Phase("defrost", "cleaning", float(params.get("defrost_s", 3600.0))),
        ]

    def _step(self, dt: float) -> None:
        on = self.powered and self.state in ("setup", "running", "cleaning")
        sp = self.setpoints
        shelf_target, vacuum, condenser_on = AMBIENT_C, False, False
        if on:
            shelf_target = {
                "load": 5.0,
                "freeze": sp["freeze_sp_c"],
                "primary": sp["primary_sp_c"],
                "secondary": sp["secondary_sp_c"],
            }.get(self.phase, AMBIENT_C)
            vacuum = self.phase in ("primary", "secondary")
            condenser_on = self.phase in ("freeze", "primary", "secondary")
        if self.heater_stuck and self.powered:
            shelf_target = 60.0
        # shelves follow their target at up to ~1 K/min (silicone-oil loop)
        self.shelf = first_order(self.shelf, max(self.min_temp_c, shelf_target), 900.0, dt)
        self.condenser = first_order(self.condenser, -70.0 if condenser_on else AMBIENT_C, 1200.0, dt)
        target_p = ATM_PA
        if vacuum:
            target_p = sp["primary_pressure_pa"] if self.phase == "primary" else sp["primary_pressure_pa"] / 2
            if self.condenser > -40.0:  # warm condenser: vapour is not trapped
                target_p *= 5.0
            if "vacuum_leak" in self.faults:  # a door seal or valve lets air in
                target_p *= 20.0
        # log-domain approach: pump-down is fast, venting is fast
        lp = first_order(math.log(self.pressure), math.log(target_p), 300.0 if vacuum else 120.0, dt)
        self.pressure = math.exp(lp)
        # the product lags the shelf; sublimation holds it cold while ice remains
        cooling = 8.0 if self.phase == "primary" and self.ice > 0 else 0.0
        self.product = first_order(self.product, self.shelf - cooling, 1800.0, dt)
        if self.phase == "primary" and self.pressure < 100.0:
            rate = 100.0 / max(1.0, self._phase.duration * 0.8)
            self.ice = max(0.0, self.ice - rate * dt)
        compressor = 6.0 if condenser_on or (self.shelf < 0 and on) else 0.0
        pump = 1.1 if vacuum else 0.0
        heat = 3.0 if self.heater_stuck and self.powered else 0.0
        self.power_kw = 0.3 + compressor + pump + heat + (2.0 if self.phase == "defrost" else 0.0)

    def _measure(self) -> dict[str, float]:
        n = self.noise
        return {
            "shelf_temp_c": self.shelf + n(0.1),
            "product_temp_c": self.product + n(0.2),
            "condenser_temp_c": self.condenser + n(0.2),
            "chamber_pressure_pa": self.pressure * (1.0 + n(0.01)),
            "ice_remaining_pct": self.ice,
        }

    def _check_alarms(self) -> None:
        drying = self.phase in ("primary", "secondary") and self.phase_elapsed > 1800.0
        self._alarm(
            "vacuum_loss",
            drying and self.pressure > self.pressure_limit_pa,
            "critical",
            f"chamber pressure {self.pressure:.0f} Pa above {self.pressure_limit_pa:.0f} Pa while drying",
        )
        self._alarm(
            "over_temperature",
            self.shelf > 50.0,
            "critical",
            f"shelf {self.shelf:.1f} °C above 50 °C (product at risk)",
        )
        if self.shelf > 55.0 and self.state != "fault":
            self.trip("over_temperature", "shelf high-high: heater interlock tripped")
            self.heater_stuck = False
