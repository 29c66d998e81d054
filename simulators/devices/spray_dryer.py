"""Centrifugal spray dryer.

Run: preheat (setup; inlet air heats to its setpoint, no feed) -> dry (feed pump on; evaporation cools the
outlet air) -> wash (cleaning; water feed, inlet held lower) -> idle. The outlet temperature is what an
operator watches: it falls as the feed rate rises, and a high outlet temperature means a dry chamber and a
fire risk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulators.devices.base import AMBIENT_C, PID, Device, Phase, Setpoint, Signal, first_order


class SprayDryer(Device):
    device_type = "spray_dryer"
    signals = (
        Signal("inlet_temp_c", "°C", "drying air inlet temperature", 10),
        Signal("outlet_temp_c", "°C", "exhaust air outlet temperature", 10),
        Signal("feed_rate_l_h", "L/h", "liquid feed rate", 100),
        Signal("atomizer_rpm", "rpm", "rotary atomizer speed", 1),
        Signal("fan_power_kw", "kW", "main fan power", 100),
        Signal("heater_power_kw", "kW", "air heater power", 100),
        Signal("powder_kg", "kg", "powder collected this run", 100),
    )
    setpoint_specs = (
        Setpoint("inlet_sp_c", "°C", 100.0, 300.0, 180.0, 10),
        Setpoint("feed_sp_l_h", "L/h", 0.0, 40.0, 20.0, 100),
    )
    primary_signal = "outlet_temp_c"
    process_faults = ("feed_blockage",)
    phase_names = ("idle", "preheat", "dry", "wash", "fault", "maintenance")

    def __init__(self, code: str, seed: int = 0, attributes: Mapping[str, Any] | None = None, **kw: Any):
        super().__init__(code, seed, attributes, **kw)
        self.max_temp_c = float(self.attributes.get("max_temp_c", 300))
        self.outlet_limit_c = float(self.attributes.get("outlet_limit_c", 120))
        self.heater_max_kw = 36.0
        self.inlet = AMBIENT_C
        self.outlet = AMBIENT_C
        self.feed = 0.0
        self.atomizer = 0.0
        self.fan = 0.0
        self.heater = 0.0
        self.powder = 0.0
        self.pid = PID(kp=0.05, ki=0.0005, lo=0.0, hi=1.0)

    def _run_plan(self, params: Mapping[str, Any]) -> list[Phase]:
        self.powder = 0.0
        return [
            Phase("preheat", "setup", float(params.get("preheat_s", 1200.0))),
            Phase("dry", "running", float(params.get("run_s", 4 * 3600.0))),
            Phase("wash", "cleaning", float(params.get("wash_s", 1800.0))),
        ]

    def _step(self, dt: float) -> None:
        active = self.powered and self.state in ("setup", "running", "cleaning")
        sp = self.setpoints["inlet_sp_c"] if self.phase != "wash" else 120.0
        feed_target = {"dry": self.setpoints["feed_sp_l_h"], "wash": 10.0}.get(self.phase, 0.0)
        if not active:
            feed_target, self.pid.integral = 0.0, 0.0
        if "feed_blockage" in self.faults:  # a blocked nozzle/line: no feed, nothing cools the outlet
            feed_target = 0.0
        u = self.pid.update(sp, self.inlet, dt) if active else 0.0
        if self.heater_stuck and self.powered:
            u = 1.0
        self.heater = u * self.heater_max_kw
        self.fan = first_order(self.fan, 5.5 if active else 0.0, 10.0, dt)
        airflow = self.fan / 5.5  # 0..1
        # inlet air: heater power against the cold air drawn through
        self.inlet += (u * 0.9 - 0.004 * (self.inlet - AMBIENT_C) * (0.3 + airflow)) * dt
        self.feed = first_order(self.feed, feed_target, 20.0, dt)
        self.atomizer = first_order(self.atomizer, 18000.0 if active else 0.0, 8.0, dt)
        # evaporation takes about 3.4 K of outlet temperature per L/h at full airflow
        drop = 0.25 * (self.inlet - AMBIENT_C) + 3.4 * self.feed
        self.outlet = first_order(self.outlet, max(AMBIENT_C, self.inlet - drop), 60.0, dt)
        if self.phase == "dry":
            self.powder += self.feed * 0.12 * dt / 3600.0  # 12 % solids
        self.power_kw = 0.2 + self.heater + self.fan + (0.75 if self.atomizer > 100 else 0.0)

    def _measure(self) -> dict[str, float]:
        n = self.noise
        return {
            "inlet_temp_c": self.inlet + n(0.3),
            "outlet_temp_c": self.outlet + n(0.3),
            "feed_rate_l_h": max(0.0, self.feed + n(0.05)),
            "atomizer_rpm": max(0.0, self.atomizer + n(20.0)) if self.atomizer > 50 else 0.0,
            "fan_power_kw": self.fan,
            "heater_power_kw": self.heater,
            "powder_kg": self.powder,
        }

    def _check_alarms(self) -> None:
        self._alarm(
            "outlet_high",
            self.phase == "dry" and self.outlet > self.outlet_limit_c,
            "warning",
            f"outlet {self.outlet:.0f} °C above {self.outlet_limit_c:.0f} °C (dry chamber, fire risk)",
        )
        self._alarm(
            "outlet_low",
            self.phase == "dry" and self.phase_elapsed > 600.0 and self.outlet < 60.0,
            "warning",
            f"outlet {self.outlet:.0f} °C below 60 °C: feed too fast, wet product sticks to the chamber",
        )
        self._alarm(
            "over_temperature",
            self.inlet > self.max_temp_c,
            "critical",
            f"inlet {self.inlet:.0f} °C above limit {self.max_temp_c:.0f} °C",
        )
        if self.inlet > self.max_temp_c + 10 and self.state != "fault":
            self.trip("over_temperature", "inlet high-high: heater interlock tripped")
            self.heater_stuck = False
