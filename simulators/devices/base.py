"""What every simulated instrument shares: states, phases, faults, alarms, events, commands.

A device is a deterministic state machine. ``tick(dt)`` advances simulated time by ``dt`` seconds, so tests
run much faster than real time; all randomness comes from one ``random.Random`` seeded with
``(seed, code)``, so the same seed gives the same trace, sample for sample.

Subclasses describe their signals (name, unit, Modbus scale), their setpoints, the phases of a run and the
physics of one step. This base class owns everything else.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

State = Literal["idle", "setup", "running", "cleaning", "fault", "maintenance"]
STATES: tuple[State, ...] = ("idle", "setup", "running", "cleaning", "fault", "maintenance")
FAULT_KINDS = ("sensor_drift", "stuck_value", "over_temperature", "power_loss")
FieldValue = float | int | bool | str

AMBIENT_C = 20.0


class DeviceError(ValueError):
    """A command the device refuses (locked, wrong state, unknown setpoint, value out of range)."""


@dataclass(frozen=True)
class Signal:
    """A measured signal. ``scale`` turns it into a Modbus integer: register = round(value * scale)."""

    name: str
    unit: str
    description: str
    scale: int = 10


@dataclass(frozen=True)
class Setpoint:
    name: str
    unit: str
    low: float
    high: float
    default: float
    scale: int = 10


@dataclass(frozen=True)
class Phase:
    """One step of a run. ``duration`` 0 means "until ``_phase_complete`` says so"."""

    name: str
    state: State
    duration: float


@dataclass
class Excursion:
    """A process upset that is not a fault of the device: a furnace overheating, a fermenter's pH
    drifting. The signal really crosses its limit, then the process recovers by itself."""

    kind: str
    started: float
    until: float


@dataclass
class Fault:
    kind: str
    signal: str
    started: float
    until: float | None  # sim time when it clears by itself; None = until cleared
    value: float = 0.0  # drift offset so far, or the stuck value


class Device:
    # class-level defaults that a replayed trace may override per instance, hence not ClassVar
    device_type: str = "device"
    signals: tuple[Signal, ...] = ()
    setpoint_specs: tuple[Setpoint, ...] = ()
    #: the signal sensor faults (drift, stuck) hit unless another is named
    primary_signal: ClassVar[str] = ""
    #: every phase name a device of this type can be in, in a fixed order (Modbus phase code = index)
    phase_names: tuple[str, ...] = ("idle", "fault", "maintenance")
    drift_per_s: ClassVar[float] = 0.02
    #: faults of this instrument's process (a clogged column, a vacuum leak) beside the common FAULT_KINDS
    process_faults: ClassVar[tuple[str, ...]] = ()
    #: process excursions of this type (`start_excursion`), and how long one lasts (seconds, low..high)
    excursion_kinds: ClassVar[tuple[str, ...]] = ()
    excursion_seconds: ClassVar[tuple[float, float]] = (300.0, 900.0)

    def __init__(
        self,
        code: str,
        seed: int = 0,
        attributes: Mapping[str, Any] | None = None,
        fault_rate_per_h: float = 0.0,
        start_ns: int = 1_796_083_200_000_000_000,  # 2026-12-01T00:00:00Z
        excursion_rate_per_h: float = 0.0,
    ) -> None:
        self.code = code
        self.seed = seed
        self.attributes = dict(attributes or {})
        self.rng = random.Random(f"{seed}:{self.device_type}:{code}")
        self.fault_rate_per_h = fault_rate_per_h
        self.excursion_rate_per_h = excursion_rate_per_h
        # excursions draw from their own stream: turning them on leaves the faults and noise as they were
        self.excursion_rng = random.Random(f"{seed}:{self.device_type}:{code}:excursions")
        self.excursion: Excursion | None = None
        self.start_ns = start_ns
        self.t = 0.0
        self.phase = "idle"
        self.state: State = "idle"
        self.phase_elapsed = 0.0
        self.locked = False
        self.powered = True
        self.heater_stuck = False
        self.run_count = 0
        self.setpoints: dict[str, float] = {s.name: s.default for s in self.setpoint_specs}
        self.faults: dict[str, Fault] = {}
        self.alarms: dict[str, str] = {}  # active alarm code -> severity
        self.events: list[dict[str, Any]] = []
        self._plan: list[Phase] = []
        self._phase: Phase = Phase("idle", "idle", 0.0)
        self._last: dict[str, FieldValue] = {}
        self.power_kw = 0.0

    # ------------------------------------------------------------------ time

    def ts_ns(self) -> int:
        return self.start_ns + round(self.t * 1e9)

    def tick(self, dt: float) -> None:
        """Advance ``dt`` simulated seconds (split into steps of at most 1 s for stable physics)."""
        if dt <= 0:
            return
        steps = max(1, math.ceil(dt / 1.0 - 1e-9))
        h = dt / steps
        for _ in range(steps):
            self.t += h
            self._maybe_random_fault(h)
            self._maybe_random_excursion(h)
            self._expire_faults()
            self._expire_excursion()
            self._step(h)
            self._advance_phase(h)
            self._update_drift(h)
            self._check_alarms()
        self._last = {}

    # ------------------------------------------------------------------ phases and runs

    def _run_plan(self, params: Mapping[str, Any]) -> list[Phase]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _phase_complete(self, phase: str) -> bool:
        return True

    def _on_phase(self, phase: str) -> None:
        """Hook called when a phase starts."""

    def start_run(self, **params: Any) -> None:
        if self.locked:
            raise DeviceError(f"{self.code} is locked (no active booking)")
        if self.state != "idle":
            raise DeviceError(f"{self.code} cannot start a run while {self.state}")
        self._plan = list(self._run_plan(params))
        self.run_count += 1
        self._next_phase()

    def stop_run(self) -> None:
        """Abort the current run; the device cleans (when it has a cleaning phase) and goes idle."""
        if self.state in ("idle", "fault", "maintenance"):
            return
        cleaning = [p for p in self._plan if p.state == "cleaning"]
        if self._phase.state == "cleaning":
            self._plan = []
        else:
            self._plan = cleaning[:1]
        self._next_phase()

    def _next_phase(self) -> None:
        phase = self._plan.pop(0) if self._plan else Phase("idle", "idle", 0.0)
        self._enter(phase)

    def _enter(self, phase: Phase) -> None:
        old_state = self.state
        self._last = {}
        self._phase = phase
        self.phase = phase.name
        self.state = phase.state
        self.phase_elapsed = 0.0
        self._on_phase(phase.name)
        if phase.state != old_state:
            self._event("state", phase.state, "info", f"{old_state} -> {phase.state} ({phase.name})")

    def _advance_phase(self, dt: float) -> None:
        self.phase_elapsed += dt
        p = self._phase
        if p.state in ("idle", "fault", "maintenance"):
            return
        if self.phase_elapsed >= p.duration and self._phase_complete(p.name):
            self._next_phase()

    def set_maintenance(self, on: bool) -> None:
        if on:
            if self.state not in ("idle", "fault"):
                raise DeviceError(f"{self.code} cannot enter maintenance while {self.state}")
            self._plan = []
            self._enter(Phase("maintenance", "maintenance", 0.0))
        elif self.state == "maintenance":
            self._enter(Phase("idle", "idle", 0.0))

    def reset(self) -> None:
        """Acknowledge a trip: clear faults and return to idle."""
        self.clear_faults()
        if self.state == "fault":
            self._plan = []
            self._enter(Phase("idle", "idle", 0.0))

    def trip(self, code: str, message: str) -> None:
        """Safety interlock: abort the run, outputs off, state ``fault``."""
        self._plan = []
        self._event("fault", code, "critical", message)
        if self.state != "fault":
            self._enter(Phase("fault", "fault", 0.0))

    # ------------------------------------------------------------------ commands (MQTT cmd, OPC UA, Modbus)

    def handle_command(self, action: str, args: Mapping[str, Any] | None = None) -> None:
        """Apply a contract command (``lock``, ``unlock``, ``setpoint``) or raise DeviceError."""
        args = dict(args or {})
        self._last = {}
        if action == "lock":
            self.locked = True
        elif action == "unlock":
            self.locked = False
        elif action == "setpoint":
            if not args:
                raise DeviceError("setpoint needs args {name: value}")
            for name, value in args.items():
                self.set_setpoint(name, value)
        else:
            raise DeviceError(f"unknown action {action!r}")

    def set_setpoint(self, name: str, value: Any) -> None:
        spec = next((s for s in self.setpoint_specs if s.name == name), None)
        if spec is None:
            known = ", ".join(s.name for s in self.setpoint_specs) or "none"
            raise DeviceError(f"unknown setpoint {name!r} (known: {known})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DeviceError(f"setpoint {name}: {value!r} is not a number")
        if not spec.low <= value <= spec.high:
            raise DeviceError(f"setpoint {name}: {value} outside {spec.low}..{spec.high} {spec.unit}")
        self.setpoints[name] = float(value)
        self._last = {}

    # ------------------------------------------------------------------ faults

    def inject_fault(self, kind: str, signal: str | None = None, duration_s: float | None = None) -> None:
        if kind not in self.fault_kinds:
            raise DeviceError(f"unknown fault {kind!r} (known: {', '.join(self.fault_kinds)})")
        target = signal or self.primary_signal
        if target not in {s.name for s in self.signals}:
            raise DeviceError(f"{self.code} has no signal {target!r}")
        until = None if duration_s is None else self.t + duration_s
        fault = Fault(kind, target, self.t, until)
        if kind == "stuck_value":
            fault.value = float(self._measure()[target])
        self.faults[kind] = fault
        self._last = {}
        severity = "critical" if kind in ("over_temperature", "power_loss") else "warning"
        self._event("fault", kind, severity, f"fault injected: {kind} on {target}")
        if kind == "over_temperature":
            self.heater_stuck = True
        elif kind == "power_loss":
            self.powered = False
            self.trip("power_loss", "mains power lost")

    @property
    def fault_kinds(self) -> tuple[str, ...]:
        return FAULT_KINDS + self.process_faults

    def clear_faults(self) -> None:
        if self.faults:
            self._event("fault", "cleared", "info", "faults cleared: " + ", ".join(self.faults))
        self.faults.clear()
        self.heater_stuck = False
        self.powered = True

    def _expire_faults(self) -> None:
        if any(f.until is not None and self.t >= f.until for f in self.faults.values()):
            self.reset()

    def _maybe_random_fault(self, dt: float) -> None:
        if self.fault_rate_per_h <= 0 or self.faults:
            return
        if self.rng.random() < 1.0 - math.exp(-self.fault_rate_per_h * dt / 3600.0):
            kind = self.rng.choice(self.fault_kinds)
            self.inject_fault(kind, duration_s=self.rng.uniform(300.0, 1800.0))

    # ------------------------------------------------------------------ process excursions

    def start_excursion(self, kind: str | None = None, duration_s: float | None = None) -> None:
        """Upset the process now (the type's first excursion unless named), for `duration_s` or a
        seeded 5-15 minutes. Refused when the type has none; replaces one under way."""
        if not self.excursion_kinds:
            raise DeviceError(f"a {self.device_type} has no process excursions")
        kind = kind or self.excursion_kinds[0]
        if kind not in self.excursion_kinds:
            raise DeviceError(f"unknown excursion {kind!r} (known: {', '.join(self.excursion_kinds)})")
        if duration_s is None:
            duration_s = self.excursion_rng.uniform(*self.excursion_seconds)
        self.excursion = Excursion(kind, self.t, self.t + duration_s)
        self._last = {}

    def excursing(self, kind: str) -> bool:
        return self.excursion is not None and self.excursion.kind == kind

    def _maybe_random_excursion(self, dt: float) -> None:
        """Excursions upset a running process only: an idle furnace cannot overheat its programme."""
        if self.excursion_rate_per_h <= 0 or self.excursion is not None or self.state != "running":
            return
        if self.excursion_rng.random() < 1.0 - math.exp(-self.excursion_rate_per_h * dt / 3600.0):
            self.start_excursion(self.excursion_rng.choice(self.excursion_kinds))

    def _expire_excursion(self) -> None:
        if self.excursion is not None and self.t >= self.excursion.until:
            self.excursion = None

    def _update_drift(self, dt: float) -> None:
        drift = self.faults.get("sensor_drift")
        if drift is not None:
            drift.value += self.drift_per_s * dt

    # ------------------------------------------------------------------ alarms and events

    def _check_alarms(self) -> None:
        """Subclasses call ``self._alarm(code, active, ...)`` for each alarm condition."""

    def _alarm(self, code: str, active: bool, severity: str, message: str) -> None:
        if active and code not in self.alarms:
            self.alarms[code] = severity
            self._event("alarm", code, severity, message)
        elif not active and code in self.alarms:
            del self.alarms[code]
            self._event("alarm", code, "info", f"{code} cleared")

    def _event(self, kind: str, code: str, severity: str, message: str) -> None:
        self.events.append(
            {"ts": self.ts_ns(), "kind": kind, "code": code, "severity": severity, "message": message}
        )

    def drain_events(self) -> list[dict[str, Any]]:
        """Events since the last call, as the contract's ``event`` payloads (ts in epoch ns)."""
        out, self.events = self.events, []
        return out

    # ------------------------------------------------------------------ reading

    def _step(self, dt: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _measure(self) -> dict[str, float]:  # pragma: no cover - abstract
        """True values plus sensor noise, before sensor faults."""
        raise NotImplementedError

    def noise(self, sigma: float) -> float:
        return self.rng.gauss(0.0, sigma)

    def read(self) -> dict[str, FieldValue]:
        """Current fields: measured signals (with sensor faults applied), state, phase, power, flags.

        Reading twice without a tick in between returns the same values.
        """
        if self._last:
            return self._last
        values: dict[str, FieldValue] = {}
        if self.powered:
            measured = self._measure()
            for f in self.faults.values():
                if f.kind == "sensor_drift":
                    measured[f.signal] += f.value
                elif f.kind == "stuck_value":
                    measured[f.signal] = f.value
            for s in self.signals:
                values[s.name] = round(measured[s.name], 4)
        else:
            values.update({s.name: 0.0 for s in self.signals})
        values["state"] = self.state
        values["phase"] = self.phase
        values["power_kw"] = round(self.power_kw if self.powered else 0.0, 3)
        values["locked"] = self.locked
        values["alarm"] = bool(self.alarms)
        self._last = values
        return values

    def describe(self) -> dict[str, Any]:
        """Static facts for the retained birth message and the docs."""
        return {
            "device_type": self.device_type,
            "signals": ",".join(f"{s.name}[{s.unit}]" for s in self.signals),
            "setpoints": ",".join(f"{s.name}[{s.unit}]" for s in self.setpoint_specs),
            "setpoint_limits": ",".join(f"{s.name}[{s.low:g}..{s.high:g}]" for s in self.setpoint_specs),
        }


def first_order(value: float, target: float, tau: float, dt: float) -> float:
    """Move ``value`` toward ``target`` with time constant ``tau`` (exact for a constant target)."""
    if tau <= 0:
        return target
    return target + (value - target) * math.exp(-dt / tau)


class PID:
    """Textbook PID with output clamp and conditional-integration anti-windup."""

    def __init__(self, kp: float, ki: float, kd: float = 0.0, lo: float = -1.0, hi: float = 1.0) -> None:
        self.kp, self.ki, self.kd, self.lo, self.hi = kp, ki, kd, lo, hi
        self.integral = 0.0
        self.prev_error: float | None = None

    def reset(self) -> None:
        self.integral = 0.0
        self.prev_error = None

    def update(self, setpoint: float, measured: float, dt: float) -> float:
        error = setpoint - measured
        deriv = 0.0 if self.prev_error is None or dt <= 0 else (error - self.prev_error) / dt
        self.prev_error = error
        unclamped = self.kp * error + self.ki * (self.integral + error * dt) + self.kd * deriv
        out = min(self.hi, max(self.lo, unclamped))
        if out == unclamped:
            self.integral += error * dt
        return out
