"""Stirred-tank fermenter / bioreactor, 5-500 L.

Run: sterilize (in-place steam, hold at 121 °C) -> run (culture at the temperature setpoint, pH held by
acid/base dosing, dissolved oxygen falling as biomass grows) -> harvest -> clean-in-place -> idle.

Temperature is a first-order jacket model driven by a PID controller (heater positive, cooling water
negative). The heater is sized so a vessel heats from ambient to 121 °C in ``heat_up_s`` — 15 min for 5 L,
growing with volume — which is the figure the tests hold the model to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from simulators.devices.base import AMBIENT_C, PID, Device, Phase, Setpoint, Signal, first_order

STERILIZE_C = 121.0
CIP_C = 80.0


class Fermenter(Device):
    device_type = "fermenter"
    signals = (
        Signal("temperature_c", "°C", "broth temperature", 100),
        Signal("temperature_sp_c", "°C", "active temperature setpoint", 100),
        Signal("agitation_rpm", "rpm", "agitator speed", 10),
        Signal("ph", "pH", "broth pH", 1000),
        Signal("do_pct", "%", "dissolved oxygen, % air saturation", 100),
        Signal("biomass_od", "OD600", "optical density of the culture", 1000),
        Signal("base_ml", "mL", "base dosed this run", 10),
        Signal("acid_ml", "mL", "acid dosed this run", 10),
        Signal("heater_pct", "%", "jacket heater (+) / cooling (-) output", 10),
    )
    setpoint_specs = (
        Setpoint("temperature_sp_c", "°C", 4.0, 60.0, 37.0, 100),
        Setpoint("agitation_sp_rpm", "rpm", 0.0, 1200.0, 400.0, 10),
        Setpoint("ph_sp", "pH", 3.0, 9.0, 7.0, 1000),
    )
    primary_signal = "temperature_c"
    process_faults = ("agitator_failure",)
    phase_names = ("idle", "sterilize", "run", "harvest", "cip", "fault", "maintenance")
    #: the base line blocks while an acid-forming contaminant grows: pH falls about 0.2 per minute,
    #: past 6.5, until the line clears and the base pump brings it back to the setpoint
    excursion_kinds = ("ph_drift",)
    excursion_seconds = (300.0, 600.0)
    ph_drift_per_s = 0.0035

    def __init__(self, code: str, seed: int = 0, attributes: Mapping[str, Any] | None = None, **kw: Any):
        super().__init__(code, seed, attributes, **kw)
        self.volume_l = float(self.attributes.get("volume_l", 5))
        self.max_temp_c = float(self.attributes.get("max_temp_c", 130))
        # Heat-up time to sterilization temperature grows with the vessel (thermal mass vs jacket area).
        self.heat_up_s = float(self.attributes.get("heat_up_s", 900.0 * (self.volume_l / 5.0) ** 0.3))
        self.loss_per_s = 1.0 / 3600.0  # jacket/ambient loss, 1/s
        # full heater must win against losses at 121 °C and still climb 101 K in 80 % of heat_up_s
        self.heat_rate = (STERILIZE_C - AMBIENT_C) / (0.8 * self.heat_up_s) + self.loss_per_s * (
            STERILIZE_C - AMBIENT_C
        )
        self.cool_rate = self.heat_rate * 0.8
        self.heater_kw = 1.5 * (self.volume_l / 5.0) ** 0.7
        self.motor_kw = 0.25 * (self.volume_l / 5.0) ** 0.8
        self.pid = PID(kp=0.4, ki=0.002, kd=0.0)
        self.temp = AMBIENT_C + self.rng.uniform(-1.0, 1.0)
        self.target_c = AMBIENT_C
        self.rpm = 0.0
        self.rpm_target = 0.0
        self.ph = 7.0
        self.do = 100.0
        self.od = 0.0
        self.base_ml = 0.0
        self.acid_ml = 0.0
        self.u = 0.0
        self.hold_s = 0.0
        self.sterile_hold_s = 1200.0
        self.params: dict[str, float] = {}

    def _run_plan(self, params: Mapping[str, Any]) -> list[Phase]:
        self.sterile_hold_s = float(params.get("sterilize_hold_s", 1200.0))
        run_s = float(params.get("run_s", 24 * 3600.0))
        return [
            Phase("sterilize", "setup", 0.0),
            Phase("run", "running", run_s),
            Phase("harvest", "running", float(params.get("harvest_s", 1800.0))),
            Phase("cip", "cleaning", float(params.get("cip_s", 2700.0))),
        ]

    def _on_phase(self, phase: str) -> None:
        self.hold_s = 0.0
        if phase == "run":
            self.od, self.ph, self.do = 0.3, self.setpoints["ph_sp"], 100.0
            self.base_ml = self.acid_ml = 0.0

    def _phase_complete(self, phase: str) -> bool:
        if phase == "sterilize":
            # held hot long enough, then cooled to within 1 K of the culture temperature
            return (
                self.hold_s >= self.sterile_hold_s and abs(self.temp - self.setpoints["temperature_sp_c"]) < 1
            )
        return True

    def _targets(self) -> tuple[float, float]:
        sp = self.setpoints
        if self.phase == "sterilize":
            return (STERILIZE_C if self.hold_s < self.sterile_hold_s else sp["temperature_sp_c"]), 100.0
        if self.phase == "run":
            # DO cascade: below 30 % the controller speeds the agitator up, as real fermenters do
            boost = max(0.0, 30.0 - self.do) * 25.0
            return sp["temperature_sp_c"], min(1200.0, sp["agitation_sp_rpm"] + boost)
        if self.phase == "harvest":
            return sp["temperature_sp_c"], 100.0
        if self.phase == "cip":
            return CIP_C, 300.0
        return AMBIENT_C, 0.0

    def _step(self, dt: float) -> None:
        active = self.powered and self.state not in ("idle", "fault", "maintenance")
        self.target_c, self.rpm_target = self._targets() if active else (AMBIENT_C, 0.0)
        if active:
            self.u = self.pid.update(self.target_c, self.temp, dt)
        else:
            self.pid.reset()
            self.u = 0.0
        if self.heater_stuck and self.powered:
            self.u = 1.0
        rate = self.heat_rate if self.u >= 0 else self.cool_rate
        self.temp += (self.u * rate - self.loss_per_s * (self.temp - AMBIENT_C)) * dt
        if self.phase == "sterilize" and self.temp >= STERILIZE_C - 1.0:
            self.hold_s += dt
        running_motor = self.powered and "agitator_failure" not in self.faults
        self.rpm = first_order(self.rpm, self.rpm_target if running_motor else 0.0, 5.0, dt)
        if self.phase == "run" and self.powered:
            self._culture(dt)
        self.power_kw = 0.15 + max(self.u, 0.0) * self.heater_kw + self.motor_kw * (self.rpm / 1000.0) ** 3
        if self.u < 0:
            self.power_kw += 0.3 * -self.u * self.heater_kw * 0.2  # chiller pump

    def _culture(self, dt: float) -> None:
        mu = 0.6 / 3600.0 * math.exp(-(((self.temp - 37.0) / 8.0) ** 2))  # 1/s, best near 37 °C
        self.od += mu * self.od * (1.0 - self.od / 40.0) * dt
        # oxygen: transfer grows with agitation, uptake with biomass
        kla = 0.005 * (self.rpm / 400.0) ** 1.5  # 1/s
        our = 0.01 * self.od  # %/s
        self.do = max(0.0, min(100.0, self.do + (kla * (100.0 - self.do) - our) * dt))
        # the culture acidifies; pumps dose base or acid outside a ±0.05 dead band
        drifting = self.excursing("ph_drift")
        self.ph -= (0.00002 * self.od + (self.ph_drift_per_s if drifting else 0.0)) * dt
        self.ph = max(self.ph, 4.0)
        sp = self.setpoints["ph_sp"]
        pump_ml_s = 0.02 * self.volume_l / 5.0
        if self.ph < sp - 0.05 and not drifting:
            self.base_ml += pump_ml_s * dt
            self.ph += 0.0015 * dt
        elif self.ph > sp + 0.05:
            self.acid_ml += pump_ml_s * dt
            self.ph -= 0.0015 * dt

    def _measure(self) -> dict[str, float]:
        n = self.noise
        return {
            "temperature_c": self.temp + n(0.05),
            "temperature_sp_c": self.target_c,
            "agitation_rpm": max(0.0, self.rpm + n(1.0) if self.rpm > 1 else 0.0),
            "ph": self.ph + n(0.005),
            "do_pct": max(0.0, self.do + n(0.3)),
            "biomass_od": max(0.0, self.od + n(0.005)),
            "base_ml": self.base_ml,
            "acid_ml": self.acid_ml,
            "heater_pct": self.u * 100.0,
        }

    def _check_alarms(self) -> None:
        self._alarm(
            "over_temperature",
            self.temp > self.max_temp_c,
            "critical",
            f"temperature {self.temp:.1f} °C above limit {self.max_temp_c:.0f} °C",
        )
        if self.temp > self.max_temp_c + 5.0 and self.state != "fault":
            self.trip("over_temperature", "high-high temperature: heater interlock tripped")
            self.heater_stuck = False  # the interlock opens the heater contactor
        running = self.phase == "run"
        self._alarm("do_low", running and self.do < 10.0, "warning", "dissolved oxygen below 10 %")
        self._alarm(
            "ph_out_of_range",
            running and abs(self.ph - self.setpoints["ph_sp"]) > 0.5,
            "warning",
            "pH more than 0.5 from setpoint",
        )
