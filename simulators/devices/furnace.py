"""Tube furnace / kiln with a ramp-and-soak programme.

A programme is a list of segments ``(ramp °C/min, target °C, soak min)``. The controller's setpoint ramps
at the given rate, then soaks; the tube follows through a first-order lag limited by heater power. The
over-temperature alarm fires above ``max_temp_c`` (or when the tube runs 50 K over its setpoint), and
the high-high limit 20 K above that trips the heater.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulators.devices.base import AMBIENT_C, PID, Device, Phase, Setpoint, Signal, first_order

DEFAULT_PROGRAM: tuple[tuple[float, float, float], ...] = ((10.0, 500.0, 60.0), (5.0, 900.0, 120.0))


class Furnace(Device):
    device_type = "furnace"
    signals = (
        Signal("temperature_c", "°C", "tube (work) temperature", 10),
        Signal("setpoint_c", "°C", "programme setpoint now", 10),
        Signal("segment", "", "programme segment (1-based; 0 = none)", 1),
        Signal("heater_pct", "%", "heater output", 10),
        Signal("gas_flow_lpm", "L/min", "process gas flow", 100),
    )
    setpoint_specs = (Setpoint("gas_flow_sp_lpm", "L/min", 0.0, 10.0, 1.0, 100),)
    primary_signal = "temperature_c"
    phase_names = ("idle", "purge", "program", "cool", "fault", "maintenance")
    #: the heater's thyristor sticks at full output for a few minutes: from a 900 °C soak the tube
    #: climbs about 1 K/s, past 1000 °C, and the controller brings it back once the output is freed
    excursion_kinds = ("overheat",)
    excursion_seconds = (240.0, 420.0)

    def __init__(self, code: str, seed: int = 0, attributes: Mapping[str, Any] | None = None, **kw: Any):
        super().__init__(code, seed, attributes, **kw)
        self.max_temp_c = float(self.attributes.get("max_temp_c", 1200))
        self.heater_kw = float(self.attributes.get("heater_kw", 4.0))
        self.temp = AMBIENT_C
        self.sp = AMBIENT_C
        self.u = 0.0
        self.gas = 0.0
        self.program: list[tuple[float, float, float]] = list(DEFAULT_PROGRAM)
        self.segment = 0
        self.soak_left = 0.0
        self.pid = PID(kp=0.05, ki=0.0004, lo=0.0, hi=1.0)

    def _run_plan(self, params: Mapping[str, Any]) -> list[Phase]:
        program: Sequence[Sequence[float]] = params.get("program") or DEFAULT_PROGRAM
        self.program = [(float(r), float(t), float(s)) for r, t, s in program]
        for ramp, target, soak in self.program:
            if ramp <= 0 or soak < 0 or not AMBIENT_C <= target <= self.max_temp_c:
                raise ValueError(f"bad programme segment {(ramp, target, soak)} (limit {self.max_temp_c})")
        return [
            Phase("purge", "setup", float(params.get("purge_s", 600.0))),
            Phase("program", "running", 0.0),
            Phase("cool", "cleaning", 0.0),
        ]

    def _on_phase(self, phase: str) -> None:
        if phase == "program":
            self.segment, self.sp = 1, self.temp
            self.soak_left = self.program[0][2] * 60.0
        elif phase in ("cool", "idle", "fault"):
            self.segment = 0

    def _phase_complete(self, phase: str) -> bool:
        if phase == "program":
            return self.segment > len(self.program)
        if phase == "cool":
            return self.temp < 100.0
        return True

    def _advance_program(self, dt: float) -> None:
        ramp, target, _soak = self.program[self.segment - 1]
        step = ramp / 60.0 * dt
        if abs(target - self.sp) > step:
            self.sp += step if target > self.sp else -step
            return
        self.sp = target
        self.soak_left -= dt
        if self.soak_left <= 0:
            self.segment += 1
            if self.segment <= len(self.program):
                self.soak_left = self.program[self.segment - 1][2] * 60.0

    def _step(self, dt: float) -> None:
        heating = self.powered and self.phase == "program"
        if heating and self.segment <= len(self.program):
            self._advance_program(dt)
        if not heating:
            self.sp = AMBIENT_C
        self.u = self.pid.update(self.sp, self.temp, dt) if heating else 0.0
        if not heating:
            self.pid.reset()
        if (self.heater_stuck or (heating and self.excursing("overheat"))) and self.powered:
            self.u = 1.0
        # full power reaches ~1400 °C at equilibrium; losses grow with temperature
        self.temp += (self.u * 2.6 - 0.0019 * (self.temp - AMBIENT_C)) * dt
        gas_on = self.powered and self.state in ("setup", "running", "cleaning")
        self.gas = first_order(self.gas, self.setpoints["gas_flow_sp_lpm"] if gas_on else 0.0, 3.0, dt)
        self.power_kw = 0.1 + self.u * self.heater_kw

    def _measure(self) -> dict[str, float]:
        n = self.noise
        return {
            "temperature_c": self.temp + n(0.5),
            "setpoint_c": self.sp,
            "segment": float(self.segment if self.phase == "program" else 0),
            "heater_pct": self.u * 100.0,
            "gas_flow_lpm": max(0.0, self.gas + n(0.01)),
        }

    def _check_alarms(self) -> None:
        over = self.temp > self.max_temp_c or (self.phase == "program" and self.temp > self.sp + 50.0)
        self._alarm(
            "over_temperature",
            over,
            "critical",
            f"temperature {self.temp:.0f} °C above limit {self.max_temp_c:.0f} °C or setpoint + 50 K",
        )
        if self.temp > self.max_temp_c + 20.0 and self.state != "fault":
            self.trip("over_temperature", "high-high limit: heater contactor opened")
            self.heater_stuck = False
