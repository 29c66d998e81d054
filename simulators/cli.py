"""Command-line entry points of the simulators.

``simulate`` is registered by ``pilotshare/cli.py`` as ``pilotshare simulate``; it is a plain function with
typer annotations. Heavy imports (paho, asyncua, pymodbus) happen inside the functions.
Running ``python -m simulators.cli --help`` gives a small stand-alone app with ``simulate``, ``demand``,
``record`` and ``replay``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
#: where `make demo` keeps the broker's accounts (PILOTSHARE_MQTT_CREDENTIALS in backend/settings.py)
DEFAULT_CREDENTIALS = Path(".var/mqtt/credentials.json")


def simulate(
    devices: Annotated[int, typer.Option("--devices", "-n", min=1, help="number of simulated devices")] = 10,
    hz: Annotated[
        float, typer.Option("--hz", min=0.01, max=1000.0, help="samples per second per device")
    ] = 1.0,
    duration: Annotated[float, typer.Option("--duration", min=0.0, help="seconds to run")] = 60.0,
    protocol: Annotated[str, typer.Option("--protocol", help="mqtt | opcua | modbus")] = "mqtt",
    seed: Annotated[int, typer.Option("--seed", help="seed for every random choice")] = 0,
    mqtt_url: Annotated[
        str,
        typer.Option("--mqtt-url", envvar="PILOTSHARE_MQTT_URL", help="broker, e.g. mqtt://127.0.0.1:1883"),
    ] = DEFAULT_MQTT_URL,
    credentials: Annotated[
        Path,
        typer.Option(
            "--credentials",
            envvar="PILOTSHARE_MQTT_CREDENTIALS",
            help="mqtt: credentials.json of `pilotshare mqtt credentials`; each device logs in as its agent",
        ),
    ] = DEFAULT_CREDENTIALS,
    platform: Annotated[str, typer.Option("--platform", help="platform code in MQTT topics")] = "jinan-bio",
    platform_file: Annotated[
        Path | None, typer.Option("--platform-file", help="platform JSON (default: the demo platform)")
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=0.001, help="simulated seconds per real second")
    ] = 1.0,
    batch_seconds: Annotated[
        float,
        typer.Option("--batch-seconds", min=0.01, help="MQTT: seconds of samples per telemetry message"),
    ] = 0.5,
    bookings: Annotated[
        Path | None,
        typer.Option("--bookings", help="JSON list of {resource,start,end,org}: bookings drive usage"),
    ] = None,
    no_show_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    late_start_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    overrun_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.15,
    unbooked_per_day: Annotated[float, typer.Option(min=0.0)] = 0.2,
    usage_out: Annotated[
        Path | None,
        typer.Option("--usage-out", help="with --bookings: write what really happened (sessions, no-shows)"),
    ] = None,
    fault_rate_per_h: Annotated[
        float, typer.Option("--fault-rate-per-h", min=0.0, help="random faults per device-hour")
    ] = 0.0,
    excursion_rate_per_h: Annotated[
        float,
        typer.Option(
            "--excursion-rate-per-h",
            min=0.0,
            help="process excursions (furnace overheating, fermenter pH drift) per running device-hour",
        ),
    ] = 0.0,
    runs_per_h: Annotated[
        float, typer.Option(min=0.0, help="without bookings: idle devices start runs")
    ] = 0.5,
    host: Annotated[str, typer.Option("--host", help="opcua/modbus: interface to serve on")] = "127.0.0.1",
    base_port: Annotated[
        int, typer.Option("--base-port", help="opcua/modbus: first port (opcua 4840, modbus 5020 if 0)")
    ] = 0,
    per_server: Annotated[int, typer.Option("--per-server", min=1, help="opcua: devices per server")] = 25,
) -> None:
    """Run a simulated fleet: the demo platform's instruments first, then generated SIM-xxxx devices.

    mqtt publishes the contract's telemetry/status/event topics and answers cmd with cmd/ack; opcua and
    modbus serve each device on local servers for edge agents to read. Ends with one JSON line on stdout.
    """
    import asyncio

    from simulators.fleet import FleetOptions, run_mqtt, serve_fleet
    from simulators.platform import build_fleet, load_platform
    from simulators.usage import UsageRates, load_bookings, plan_usage

    if protocol not in ("mqtt", "opcua", "modbus"):
        raise typer.BadParameter(f"{protocol!r} is not one of mqtt, opcua, modbus", param_hint="--protocol")
    pdata = load_platform(platform_file)
    fleet = build_fleet(
        devices,
        seed=seed,
        platform=pdata,
        fault_rate_per_h=fault_rate_per_h,
        excursion_rate_per_h=excursion_rate_per_h,
    )
    opts = FleetOptions(
        hz=hz, duration=duration, speed=speed, batch_seconds=batch_seconds, runs_per_h=runs_per_h, seed=seed
    )
    usage = None
    if bookings is not None:
        rates = UsageRates(
            no_show_rate=no_show_rate,
            late_start_rate=late_start_rate,
            overrun_rate=overrun_rate,
            unbooked_per_day=unbooked_per_day,
        )
        plan = plan_usage(load_bookings(bookings), rates, seed)
        usage = plan.actions
        if usage_out is not None:
            usage_out.write_text(json.dumps(plan.to_json(), indent=1), encoding="utf-8")
    if protocol == "mqtt":
        from simulators.mqtt_link import CredentialsError, load_credentials

        try:
            accounts = load_credentials(credentials)
        except CredentialsError as exc:
            typer.echo(f"error: --credentials: {exc}", err=True)
            raise typer.Exit(2) from None
        try:
            result = run_mqtt(fleet, platform, mqtt_url, opts, usage, credentials=accounts)
        except (CredentialsError, ConnectionError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    else:
        result = asyncio.run(
            serve_fleet(fleet, protocol, opts, host, base_port or None, usage, per_server=per_server)
        )
    print(json.dumps(result.summary()), flush=True)


def simulate_history(
    plan: Annotated[Path, typer.Option("--plan", help="run plan of `pilotshare seed demo --history FILE`")],
    mqtt_url: Annotated[
        str,
        typer.Option("--mqtt-url", envvar="PILOTSHARE_MQTT_URL", help="broker, e.g. mqtt://127.0.0.1:1883"),
    ] = DEFAULT_MQTT_URL,
    credentials: Annotated[
        Path,
        typer.Option(
            "--credentials",
            envvar="PILOTSHARE_MQTT_CREDENTIALS",
            help="credentials.json of `pilotshare mqtt credentials`; each instrument logs in as its agent",
        ),
    ] = DEFAULT_CREDENTIALS,
    every: Annotated[float, typer.Option("--every", min=1.0, help="seconds between samples")] = 60.0,
) -> None:
    """Publish a platform's past runs as its instruments would have reported them (device models, device
    time); prints one JSON line with `samples_published` once the broker acknowledged them all."""
    from simulators.history import load_plan, publish_history
    from simulators.mqtt_link import CredentialsError, load_credentials

    try:
        runs = load_plan(plan)
        accounts = (
            load_credentials(credentials)
            if credentials != DEFAULT_CREDENTIALS or credentials.exists()
            else None  # until `make demo` writes its accounts, its broker is still the open one
        )
    except (OSError, ValueError, CredentialsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        published = publish_history(runs, mqtt_url, accounts, every)
    except (ConnectionError, TimeoutError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    print(json.dumps({"runs": len(runs), "samples_published": published}), flush=True)


def demand(
    out: Annotated[Path, typer.Option("--out", "-o", help="problem file to write ('-' for stdout)")] = Path(
        "-"
    ),
    requests: Annotated[int, typer.Option("--requests", min=0)] = 40,
    days: Annotated[int, typer.Option("--days", min=1)] = 14,
    start: Annotated[
        str, typer.Option("--start", help="horizon start, RFC 3339")
    ] = "2026-12-01T00:00:00+08:00",
    key_share: Annotated[float, typer.Option("--key-share", min=0.0, max=1.0)] = 0.1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Write a seeded SME demand stream as the contract's scheduling problem file."""
    from simulators.demand import DemandConfig, generate_problem

    problem = generate_problem(
        DemandConfig(requests=requests, days=days, start=start, key_project_share=key_share, seed=seed)
    )
    text = json.dumps(problem, ensure_ascii=False, indent=1)
    if str(out) == "-":
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text + "\n", encoding="utf-8")
        print(json.dumps({"out": str(out), "requests": len(problem["requests"])}))


def record(
    device_type: Annotated[str, typer.Option("--type")] = "fermenter",
    code: Annotated[str, typer.Option("--code")] = "F5-1",
    out: Annotated[Path, typer.Option("--out", "-o")] = Path("trace.csv"),
    seconds: Annotated[float, typer.Option("--seconds")] = 3600.0,
    hz: Annotated[float, typer.Option("--hz")] = 1.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Run one device (one run, faster than real time) and record its signals to CSV."""
    from simulators.devices import make_device
    from simulators.replay import record_device

    device = make_device(device_type, code, seed)
    device.start_run()
    rows = record_device(device, out, seconds, hz)
    print(json.dumps({"out": str(out), "rows": rows}))


def replay(
    trace: Annotated[Path, typer.Argument(help="CSV trace written by record")],
    protocol: Annotated[str, typer.Option("--protocol", help="opcua | modbus")] = "modbus",
    port: Annotated[int, typer.Option("--port")] = 5020,
    speed: Annotated[float, typer.Option("--speed", min=0.001)] = 1.0,
    loop: Annotated[bool, typer.Option("--loop/--no-loop")] = False,
) -> None:
    """Serve a recorded trace through the same OPC UA / Modbus server a live device uses."""
    import asyncio

    from simulators.replay import TraceDevice, serve_trace

    device = TraceDevice.load(trace, loop=loop)
    rows = asyncio.run(serve_trace(device, protocol, port, speed))
    print(json.dumps({"trace": str(trace), "rows_served": rows}))


def register_map(
    device_type: Annotated[
        str, typer.Argument(help="fermenter, spray_dryer, freeze_dryer, furnace, hplc, am_cell")
    ],
) -> None:
    """Print a device type's Modbus register map as JSON (for edge agent configs)."""
    from simulators.devices import DEVICE_TYPES
    from simulators.servers.modbus import register_map as build

    if device_type not in DEVICE_TYPES:
        raise typer.BadParameter(f"{device_type!r} is not one of {', '.join(DEVICE_TYPES)}")
    print(json.dumps(build(device_type), ensure_ascii=False, indent=1))


def main() -> None:
    app = typer.Typer(add_completion=False, help="PilotShare simulators")
    for fn in (simulate, demand, record, replay, register_map):
        app.command()(fn)
    app()


if __name__ == "__main__":
    main()
