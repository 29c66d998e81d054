"""Bookings drive usage: simulated SMEs use instruments when their booking starts — mostly.

Given bookings ``[{"resource", "start", "end", "org", "id"?}]`` (the bookings API will feed the same shape;
for now a JSON file), :func:`plan_usage` decides, with a seed, what really happens:

- **no-show** (``no_show_rate``): the instrument stays idle through the booking;
- **late start** (``late_start_rate``): the run starts 5..``late_max_min`` minutes late;
- **overrun** (``overrun_rate``): the run ends 5..``overrun_max_min`` minutes after the booking;
- **unbooked use** (``unbooked_per_day`` per resource): someone runs the instrument outside any booking.

The result is a list of timed :class:`UsageAction` (start / stop a run) for the fleet, and the ground truth
(:class:`UsageSession`), so reconciliation and auditor scores can be checked against what was simulated.
Times are epoch nanoseconds.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from simulators.devices.base import Device, DeviceError

NS_PER_MIN = 60 * 1_000_000_000


@dataclass(frozen=True)
class Booking:
    resource: str
    start_ns: int
    end_ns: int
    org: str
    id: str = ""


@dataclass(frozen=True)
class UsageRates:
    no_show_rate: float = 0.1
    late_start_rate: float = 0.2
    late_max_min: float = 45.0
    overrun_rate: float = 0.15
    overrun_max_min: float = 60.0
    unbooked_per_day: float = 0.2
    unbooked_min_minutes: float = 30.0
    unbooked_max_minutes: float = 120.0


@dataclass(frozen=True)
class UsageAction:
    at_ns: int
    resource: str
    action: Literal["start", "stop"]
    booking: str = ""
    org: str = ""

    def apply(self, device: Device) -> None:
        """Start or stop the device's run; a device that cannot (fault, maintenance) simply does not."""
        try:
            if self.action == "start":
                if device.locked:
                    device.handle_command("unlock")
                if device.state not in ("idle",):
                    device.stop_run()
                    if device.state != "idle":
                        return
                device.start_run()
            else:
                device.stop_run()
        except DeviceError:
            return


@dataclass(frozen=True)
class UsageSession:
    resource: str
    org: str
    booking: str  # "" for unbooked use
    start_ns: int
    end_ns: int
    kind: Literal["booked", "unbooked"]


@dataclass
class UsagePlan:
    actions: list[UsageAction]
    sessions: list[UsageSession]
    no_shows: list[Booking]

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": [asdict(a) for a in self.actions],
            "sessions": [asdict(s) for s in self.sessions],
            "no_shows": [asdict(b) for b in self.no_shows],
        }


def _ns(value: str | int) -> int:
    if isinstance(value, int):
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"booking time {value!r} needs a time zone")
    return int(parsed.timestamp() * 1e9)


def parse_bookings(data: list[dict[str, Any]]) -> list[Booking]:
    out = []
    for i, b in enumerate(data):
        try:
            booking = Booking(
                resource=str(b["resource"]),
                start_ns=_ns(b["start"]),
                end_ns=_ns(b["end"]),
                org=str(b.get("org", "")),
                id=str(b.get("id", f"b{i}")),
            )
        except KeyError as exc:
            raise ValueError(f"bookings[{i}]: missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bookings[{i}]: {exc}") from None
        if booking.end_ns <= booking.start_ns:
            raise ValueError(f"bookings[{i}]: end must be after start")
        out.append(booking)
    return out


def load_bookings(path: str | Path) -> list[Booking]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("data", data.get("bookings", []))
    return parse_bookings(data)


def plan_usage(
    bookings: list[Booking],
    rates: UsageRates | None = None,
    seed: int = 0,
    horizon: tuple[int, int] | None = None,
) -> UsagePlan:
    """Seeded: the same bookings, rates and seed give the same plan."""
    rates = rates or UsageRates()
    rng = random.Random(f"usage:{seed}")
    actions: list[UsageAction] = []
    sessions: list[UsageSession] = []
    no_shows: list[Booking] = []
    ordered = sorted(bookings, key=lambda b: (b.start_ns, b.resource, b.id))
    for b in ordered:
        if rng.random() < rates.no_show_rate:
            no_shows.append(b)
            continue
        start = b.start_ns
        if rng.random() < rates.late_start_rate:
            start += round(rng.uniform(5.0, rates.late_max_min) * NS_PER_MIN)
        end = b.end_ns
        if rng.random() < rates.overrun_rate:
            end += round(rng.uniform(5.0, rates.overrun_max_min) * NS_PER_MIN)
        if start >= end:
            no_shows.append(b)
            continue
        actions += [
            UsageAction(start, b.resource, "start", b.id, b.org),
            UsageAction(end, b.resource, "stop", b.id, b.org),
        ]
        sessions.append(UsageSession(b.resource, b.org, b.id, start, end, "booked"))
    if ordered and rates.unbooked_per_day > 0:
        lo, hi = horizon or (ordered[0].start_ns, max(b.end_ns for b in ordered))
        days = (hi - lo) / (24 * 60 * NS_PER_MIN)
        busy: dict[str, list[tuple[int, int]]] = {}
        for s in sessions:
            busy.setdefault(s.resource, []).append((s.start_ns, s.end_ns))
        for resource in sorted({b.resource for b in ordered}):
            count = _poisson(rng, rates.unbooked_per_day * days)
            for _ in range(count):
                start = rng.randint(lo, max(lo, hi - 1))
                minutes = rng.uniform(rates.unbooked_min_minutes, rates.unbooked_max_minutes)
                end = start + round(minutes * NS_PER_MIN)
                margin = 30 * NS_PER_MIN
                if any(start < e + margin and s < end + margin for s, e in busy.get(resource, [])):
                    continue  # would collide with real use: skip rather than distort bookings
                busy.setdefault(resource, []).append((start, end))
                actions += [UsageAction(start, resource, "start"), UsageAction(end, resource, "stop")]
                sessions.append(UsageSession(resource, "", "", start, end, "unbooked"))
    actions.sort(key=lambda a: (a.at_ns, a.action != "stop", a.resource))
    sessions.sort(key=lambda s: (s.start_ns, s.resource))
    return UsagePlan(actions, sessions, no_shows)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth; the means here are small (a few events per resource)
    if mean <= 0:
        return 0
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
