"""Record a device's signals to CSV and replay a trace through the same protocol servers.

Trace format (CSV, UTF-8)::

    # pilotshare-trace v1 device_type=fermenter code=F5-1 hz=1.0
    ts_ns,t_s,temperature_c,...,state,phase,power_kw,locked,alarm
    1796083200000000000,0.0,20.1234,...,setup,sterilize,1.65,false,false

The comment line is optional (a trace from a real instrument can be a bare CSV with ``ts_ns`` or an RFC 3339
``ts`` column). Floats are written with ``repr`` so they read back bit for bit; booleans as true/false.

:class:`TraceDevice` quacks like a :class:`~simulators.devices.base.Device` for the servers and the
fleet: ``tick(dt)`` advances replay time (multiply by ``speed`` for faster than real time), ``read()`` returns
the last recorded row at or before that time. Replaying with the recording's own step reproduces the trace
sample for sample. Commands are refused: a recording cannot obey.
"""

from __future__ import annotations

import asyncio
import csv
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge_agent.protocol import to_epoch_ns
from simulators.devices import DEVICE_TYPES
from simulators.devices.base import STATES, Device, DeviceError, FieldValue, Setpoint, Signal

HEADER_RE = re.compile(r"^#\s*pilotshare-trace\s+v1\s*(.*)$")
FLAG_FIELDS = ("locked", "alarm")
TEXT_FIELDS = ("state", "phase")


def _format(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse(name: str, text: str) -> FieldValue:
    if name in FLAG_FIELDS or text in ("true", "false"):
        return text == "true"
    if name in TEXT_FIELDS:
        return text
    try:
        return float(text)
    except ValueError:
        return text


def record_device(device: Device, path: str | Path, seconds: float, hz: float) -> int:
    """Tick ``device`` for ``seconds`` simulated seconds at ``hz``, writing one row per tick (plus t=0)."""
    step = 1.0 / hz
    n = round(seconds * hz)
    names = list(device.read().keys())
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"# pilotshare-trace v1 device_type={device.device_type} code={device.code} hz={hz}\n")
        writer = csv.writer(fh)
        writer.writerow(["ts_ns", "t_s", *names])
        for i in range(n + 1):
            if i:
                device.tick(step)
            fields = device.read()
            writer.writerow([device.ts_ns(), repr(device.t), *(_format(fields[k]) for k in names)])
    return n + 1


def read_trace(path: str | Path) -> tuple[dict[str, str], list[int], list[dict[str, FieldValue]]]:
    """Metadata, timestamps (epoch ns) and rows of a trace file."""
    meta: dict[str, str] = {}
    times: list[int] = []
    rows: list[dict[str, FieldValue]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        first = fh.readline()
        match = HEADER_RE.match(first.strip())
        if match:
            meta = dict(kv.split("=", 1) for kv in match.group(1).split() if "=" in kv)
        else:
            fh.seek(0)
        reader = csv.DictReader(fh)
        for lineno, raw in enumerate(reader, start=2):
            if "ts_ns" in raw:
                ts = int(raw.pop("ts_ns"))
            elif "ts" in raw:
                ts = to_epoch_ns(raw.pop("ts"))
            else:
                raise ValueError(f"{path}: line {lineno}: needs a ts_ns or ts column")
            raw.pop("t_s", None)
            times.append(ts)
            rows.append({k: _parse(k, v) for k, v in raw.items()})
    if not rows:
        raise ValueError(f"{path}: trace has no rows")
    return meta, times, rows


class TraceDevice(Device):
    """A recorded trace served as if it were a live device."""

    phase_names: tuple[str, ...] = ("idle", "fault", "maintenance")

    def __init__(
        self,
        code: str,
        device_type: str,
        times: list[int],
        rows: list[dict[str, FieldValue]],
        loop: bool = False,
    ) -> None:
        super().__init__(code, start_ns=times[0])
        self.device_type = device_type
        self.times = times
        self.rows = rows
        self.loop = loop
        self.index = 0
        known = DEVICE_TYPES.get(device_type)
        numeric = [
            k
            for k, v in rows[0].items()
            if k not in (*TEXT_FIELDS, *FLAG_FIELDS, "power_kw") and isinstance(v, float)
        ]
        if known is not None and all(s.name in rows[0] for s in known.signals):
            self.signals = known.signals
            self.phase_names = known.phase_names
        else:
            self.signals = tuple(Signal(k, "", k, 100) for k in numeric)
        self.setpoint_specs: tuple[Setpoint, ...] = ()
        self._apply()

    @classmethod
    def load(cls, path: str | Path, loop: bool = False) -> TraceDevice:
        meta, times, rows = read_trace(path)
        return cls(meta.get("code", Path(path).stem), meta.get("device_type", "trace"), times, rows, loop)

    @property
    def finished(self) -> bool:
        return not self.loop and self.index >= len(self.rows) - 1

    def _apply(self) -> None:
        row = self.rows[self.index]
        state = str(row.get("state", "running"))
        self.state = state if state in STATES else "running"
        self.phase = str(row.get("phase", self.state))
        power = row.get("power_kw", 0.0)
        self.power_kw = float(power) if isinstance(power, float | int) else 0.0
        self.locked = bool(row.get("locked", False))

    def tick(self, dt: float) -> None:
        self.t += dt
        target = self.times[0] + round(self.t * 1e9)
        span = self.times[-1] - self.times[0]
        if self.loop and span > 0 and target > self.times[-1]:
            target = self.times[0] + (target - self.times[0]) % (span + 1)
            if target < self.times[self.index]:
                self.index = 0
        while self.index + 1 < len(self.times) and self.times[self.index + 1] <= target:
            self.index += 1
        self._apply()

    def ts_ns(self) -> int:
        return self.times[self.index]

    def read(self) -> dict[str, FieldValue]:
        return dict(self.rows[self.index])

    def iter_rows(self) -> Iterator[tuple[int, dict[str, FieldValue]]]:
        return iter(zip(self.times, self.rows, strict=True))

    def handle_command(self, action: str, args: Any = None) -> None:
        raise DeviceError(f"{self.code} is a replayed trace and takes no commands")

    def start_run(self, **params: Any) -> None:
        raise DeviceError(f"{self.code} is a replayed trace and takes no commands")

    def stop_run(self) -> None:
        raise DeviceError(f"{self.code} is a replayed trace and takes no commands")

    def set_setpoint(self, name: str, value: Any) -> None:
        raise DeviceError(f"{self.code} is a replayed trace and takes no commands")

    def median_step_s(self) -> float:
        gaps = sorted(b - a for a, b in zip(self.times, self.times[1:], strict=False))
        return gaps[len(gaps) // 2] / 1e9 if gaps else 1.0


async def serve_trace(
    device: TraceDevice, protocol: str, port: int, speed: float = 1.0, host: str = "127.0.0.1"
) -> int:
    """Serve the trace over OPC UA or Modbus, advancing at ``speed`` x real time; returns rows served."""
    from simulators.servers import make_server

    server = make_server(protocol, [device], host, port)
    await server.start()
    step = device.median_step_s()
    served = 1
    try:
        while not device.finished:
            await asyncio.sleep(step / speed)
            before = device.index
            device.tick(step)
            served += device.index != before  # distinct rows put on the server
            await server.update()
    finally:
        await server.stop()
    return served


def traces_equal(a: list[dict[str, FieldValue]], b: list[dict[str, FieldValue]]) -> bool:
    """Sample-for-sample equality, treating NaN as equal to NaN."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if ra.keys() != rb.keys():
            return False
        for k, va in ra.items():
            vb = rb[k]
            if isinstance(va, float) and isinstance(vb, float) and math.isnan(va) and math.isnan(vb):
                continue
            if va != vb:
                return False
    return True
