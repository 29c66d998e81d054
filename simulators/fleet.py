"""Fleet runner: many simulated devices ticking in real time, published over MQTT or served over OPC UA /
Modbus TCP.

Timing: the loop ticks every device once per period (1/hz); when it falls behind it catches up by ticking
again rather than skipping, so every period yields exactly one sample per device and ``lag_max_s`` tells how
far behind real time it ever was. Sample timestamps are the ideal tick times (wall clock at start + k/hz),
so they are evenly spaced whatever the scheduler jitter. ``speed`` multiplies the simulated seconds per tick
(a 6 h fermentation in 6 min at speed 60) without changing timestamps or the sample rate.

Activity: without bookings, idle devices start runs by themselves (``runs_per_h``) and a share of the fleet
is already mid-run at start, so a demo shows every state. With bookings (``simulators.usage``), the
booking plan alone starts and stops runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulators.devices.base import Device, DeviceError
from simulators.usage import UsageAction

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class FleetOptions:
    hz: float = 10.0
    duration: float = 60.0
    speed: float = 1.0
    batch_seconds: float = 0.5
    runs_per_h: float = 0.5
    start_share: float = 0.5
    seed: int = 0
    progress_every: float = 5.0


class Activity:
    """Who starts runs: a seeded autostart policy, or a booking-driven usage plan."""

    def __init__(self, devices: list[Device], opts: FleetOptions, usage: list[UsageAction] | None = None):
        self.devices = {d.code: d for d in devices}
        self.rng = random.Random(f"activity:{opts.seed}")
        self.runs_per_h = opts.runs_per_h
        self.usage = sorted(usage or [], key=lambda a: a.at_ns)
        self.next_usage = 0
        self.caught_up = False
        self.booked = usage is not None
        if not self.booked:
            for d in devices:
                if self.rng.random() < opts.start_share:
                    d.start_run()
                    d.tick(self.rng.uniform(0.0, 3600.0))  # already some way into the run
                    d.drain_events()

    def apply(self, now_ns: int, sim_dt: float) -> None:
        if self.booked:
            if not self.caught_up:
                self._skip_past(now_ns)
                self.caught_up = True
            while self.next_usage < len(self.usage) and self.usage[self.next_usage].at_ns <= now_ns:
                action = self.usage[self.next_usage]
                self.next_usage += 1
                device = self.devices.get(action.resource)
                if device is not None:
                    action.apply(device)
            return
        self._autostart(sim_dt)

    def _skip_past(self, now_ns: int) -> None:
        """Bookings already over when the fleet starts are history; one in progress starts at once."""
        past = [a for a in self.usage if a.at_ns <= now_ns]
        for action in _last_per_resource(past).values():
            device = self.devices.get(action.resource)
            if device is not None and action.action == "start":
                action.apply(device)
        self.next_usage = len(past)

    def _autostart(self, sim_dt: float) -> None:
        p = self.runs_per_h * sim_dt / 3600.0
        for d in self.devices.values():
            if d.state == "idle" and not d.locked and self.rng.random() < p:
                with contextlib.suppress(DeviceError):
                    d.start_run()


def _last_per_resource(actions: list[UsageAction]) -> dict[str, UsageAction]:
    last: dict[str, UsageAction] = {}
    for a in actions:
        last[a.resource] = a
    return last


@dataclass
class FleetResult:
    devices: int
    hz: float
    duration: float
    seconds: float
    samples_generated: int
    samples_published: int
    messages_published: int = 0
    lag_max_s: float = 0.0
    protocol: str = "mqtt"

    def summary(self) -> dict[str, Any]:
        rate = self.samples_published / self.seconds if self.seconds > 0 else 0.0
        return {
            "devices": self.devices,
            "protocol": self.protocol,
            "hz": self.hz,
            "duration": self.duration,
            "seconds": round(self.seconds, 3),
            "samples_generated": self.samples_generated,
            "samples_published": self.samples_published,
            "messages_published": self.messages_published,
            "target_samples_per_s": round(self.devices * self.hz, 1),
            "achieved_samples_per_s": round(rate, 1),
            "lag_max_s": round(self.lag_max_s, 3),
        }


class _Stop:
    """SIGTERM / SIGINT end the run cleanly (offline status, summary line) instead of killing it."""

    def __init__(self) -> None:
        self.flag = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.flag = True

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run_mqtt(
    devices: list[Device],
    platform: str,
    mqtt_url: str,
    opts: FleetOptions,
    usage: list[UsageAction] | None = None,
    progress: Progress = _stderr,
    credentials: Mapping[str, tuple[str, str]] | None = None,
) -> FleetResult:
    """Publish the fleet over MQTT, each device logged in with its own account from ``credentials``."""
    from simulators.mqtt_link import MqttFleetLink

    link = MqttFleetLink(devices, platform, mqtt_url, credentials)
    # Signals are caught before the births go out: a SIGTERM right after them still ends cleanly.
    with _Stop() as stop:
        progress(f"connecting {len(devices)} devices to {mqtt_url} ...")
        link.connect_all()
        activity = Activity(devices, opts, usage)
        period = 1.0 / opts.hz
        sim_dt = period * opts.speed
        generated = sent = 0
        lag_max = 0.0
        start_wall_ns = time.time_ns()
        t0 = time.monotonic()
        next_flush = t0 + opts.batch_seconds
        next_misc = t0 + 1.0
        next_progress = t0 + opts.progress_every
        k = 0
        while not stop.flag:
            now = time.monotonic()
            due = t0 + k * period
            if k * period >= opts.duration:
                break
            if now >= due:
                lag_max = max(lag_max, now - due)
                ts = start_wall_ns + round(k * period * 1e9)
                activity.apply(ts, sim_dt)
                for d in devices:
                    d.tick(sim_dt)
                link.sample_all(ts)
                generated += len(devices)
                k += 1
                continue  # catch up before serving the network
            link.handle_commands()
            if now >= next_flush:
                sent += link.flush()
                next_flush += opts.batch_seconds
            if now >= next_misc:
                link.misc()
                next_misc += 1.0
            if now >= next_progress:
                elapsed = now - t0
                progress(
                    f"{elapsed:6.1f} s  samples {generated}  acked {link.acked_samples()}  "
                    f"rate {link.acked_samples() / elapsed:,.0f}/s  lag {lag_max:.3f} s"
                )
                next_progress += opts.progress_every
            link.poll(max(0.0, min(due, next_flush) - time.monotonic()))
        sent += link.flush()
        link.close()
    seconds = time.monotonic() - t0
    return FleetResult(
        devices=len(devices),
        hz=opts.hz,
        duration=opts.duration,
        seconds=seconds,
        samples_generated=generated,
        samples_published=link.acked_samples(),
        messages_published=link.messages_published,
        lag_max_s=lag_max,
    )


async def serve_fleet(
    devices: list[Device],
    protocol_name: str,
    opts: FleetOptions,
    host: str = "127.0.0.1",
    base_port: int | None = None,
    usage: list[UsageAction] | None = None,
    progress: Progress = _stderr,
    stop_event: asyncio.Event | None = None,
    per_server: int = 1,
) -> FleetResult:
    """Serve the devices on local servers (server ``i`` on port ``base_port + i``), values kept current.

    Modbus: one server per device. OPC UA: ``per_server`` devices per server, one object each (an asyncua
    server takes ~2 s to start, so 200 single-device servers would take minutes).

    ``samples_published`` counts the device snapshots written into the servers (one per device per tick);
    clients such as the edge agent read them at their own pace.
    """
    from simulators.servers import DeviceServer, make_server

    port0 = base_port or (4840 if protocol_name == "opcua" else 5020)
    per = max(1, per_server) if protocol_name == "opcua" else 1
    groups = [devices[i : i + per] for i in range(0, len(devices), per)]
    servers: list[DeviceServer] = [
        make_server(protocol_name, g, host, port0 + i) for i, g in enumerate(groups)
    ]
    for s in servers:
        await s.start()
    progress(
        f"serving {len(devices)} devices over {protocol_name} on {len(servers)} server(s), "
        f"{host}:{port0}..{port0 + len(servers) - 1}"
    )
    activity = Activity(devices, opts, usage)
    period = 1.0 / opts.hz
    sim_dt = period * opts.speed
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    start_wall_ns = time.time_ns()
    t0 = time.monotonic()
    generated = 0
    lag_max = 0.0
    next_progress = t0 + opts.progress_every
    k = 0
    seconds = 0.0
    try:
        while not stop.is_set() and k * period < opts.duration:
            due = t0 + k * period
            now = time.monotonic()
            if now < due:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), due - now)
                continue
            lag_max = max(lag_max, now - due)
            ts = start_wall_ns + round(k * period * 1e9)
            activity.apply(ts, sim_dt)
            for d in devices:
                d.tick(sim_dt)
                d.drain_events()
            for s in servers:
                await s.update()
            generated += len(devices)
            k += 1
            if now >= next_progress:
                progress(f"{now - t0:6.1f} s  snapshots served {generated}  lag {lag_max:.3f} s")
                next_progress += opts.progress_every
        seconds = time.monotonic() - t0
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        for s in servers:
            await s.stop()
    return FleetResult(
        devices=len(devices),
        hz=opts.hz,
        duration=opts.duration,
        seconds=seconds,
        samples_generated=generated,
        samples_published=generated,
        lag_max_s=lag_max,
        protocol=protocol_name,
    )
