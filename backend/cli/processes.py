"""The long-running processes: the HTTP API, the ingest, and the demo that runs them all together."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

import typer

from backend.cli.admin import seed_demo_command
from backend.cli.common import DatabaseOpt, fail, settings_from
from backend.settings import Settings

#: the cycle collector's thresholds in an ingest process (Python's are 700, 10, 10)
INGEST_GC_THRESHOLDS = (50_000, 20, 100)


def ingest(
    mqtt_url: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_MQTT_URL")] = None,
    influx_url: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_INFLUX_URL")] = None,
    influx_db: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_INFLUX_DB")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id; the broker keeps its session")] = (
        "pilotshare-ingest"
    ),
    group: Annotated[
        str | None,
        typer.Option(help="overrides PILOTSHARE_INGEST_GROUP; a group shares the stream"),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """MQTT telemetry into InfluxDB, twin state and alarms into the database (docs/ingest.md).

    Several processes with their own client ids and the same group share the stream.

    Stops cleanly on SIGTERM: what was received is written and acknowledged first; prints one JSON
    line with the counts at the end."""

    import httpx

    from backend.adapters.influx import InfluxClient, InfluxError, InfluxWriter
    from backend.db import make_engine
    from backend.domain.broker import INGEST
    from backend.domain.usage import UsageRules
    from backend.ingest.service import Ingest

    settings = settings_from(
        mqtt_url=mqtt_url,
        influx_url=influx_url,
        influx_db=influx_db,
        ingest_group=group,
        database_url=database_url,
    )
    login = _broker_login(settings, INGEST)
    client = InfluxClient(settings.influx_url, settings.influx_db, settings.influx_token)
    try:
        if client.ensure_database():
            typer.echo(f"created InfluxDB database {settings.influx_db}", err=True)
    except (InfluxError, httpx.HTTPError) as exc:
        typer.echo(f"warning: could not check the InfluxDB database ({exc}); writes will retry", err=True)
    engine = make_engine(settings)
    service = Ingest(
        settings.mqtt_url,
        engine,
        InfluxWriter(client),
        client_id=client_id,
        group=settings.ingest_group,
        usage_rules=UsageRules(settings.usage_min_seconds),
        login=login,
        ca_file=settings.mqtt_ca_file,
        max_skew_seconds=settings.ingest_max_clock_skew_seconds,
    )
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Every batch makes tens of thousands of short-lived dicts and tuples; with the default thresholds
    # the cycle collector ran often and walked the whole process (the modules, SQLAlchemy's metadata)
    # each time: 16 % of a worker's CPU (docs/performance.md). What exists at start stays put.
    gc.freeze()
    gc.set_threshold(*INGEST_GC_THRESHOLDS)
    service.start()
    try:
        while not stopping:
            time.sleep(0.2)
    finally:
        service.stop()
        client.close()
        engine.dispose()
    stats = service.stats
    summary = {
        "messages": stats.messages,
        "samples": stats.samples,
        "bad_payloads": stats.bad_payloads,
        "refused_future": stats.refused_future,
        "quarantined": stats.quarantined,
        "twins_changed": stats.twins_changed,
        "alarms": stats.alarms,
        "rule_alarms_raised": stats.rule_alarms_raised,
        "rule_alarms_cleared": stats.rule_alarms_cleared,
        "faults": stats.faults,
        "usage_sessions_changed": stats.usage_sessions_changed,
        "unknown_resources": sum(stats.unknown_resources.values()),
        "lines_written": service.influx.stats.lines_written,
        "lines_dropped": service.influx.stats.lines_dropped,
    }
    typer.echo(json.dumps(summary))


def commands(
    mqtt_url: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_MQTT_URL")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id")] = "pilotshare-commands",
    database_url: DatabaseOpt = None,
) -> None:
    """Send the queued commands (lock, unlock, setpoints) to the instruments and sweep the interlocks
    of bookings that start or end (docs/commands.md). Stops cleanly on SIGTERM."""
    from backend.db import make_engine
    from backend.dispatcher import Dispatcher
    from backend.domain.broker import BACKEND

    settings = settings_from(mqtt_url=mqtt_url, database_url=database_url)
    engine = make_engine(settings)
    dispatcher = Dispatcher(
        settings.mqtt_url,
        engine,
        login=_broker_login(settings, BACKEND),
        ca_file=settings.mqtt_ca_file,
        client_id=client_id,
        retry_seconds=settings.commands_retry_seconds,
        poll_seconds=settings.commands_poll_seconds,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stopping.set())
    signal.signal(signal.SIGINT, lambda _s, _f: stopping.set())
    dispatcher.start()
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        dispatcher.stop()
        engine.dispose()
    stats = dispatcher.stats
    typer.echo(
        json.dumps(
            {"sent": stats.sent, "expired": stats.expired, "unlocks": stats.unlocks, "locks": stats.locks}
        )
    )


def _broker_login(settings: Settings, who: str) -> tuple[str, str] | None:
    """This process's account on the broker: the user in PILOTSHARE_MQTT_URL, else its entry in
    PILOTSHARE_MQTT_CREDENTIALS (None: the URL's user, or nobody, which the broker refuses)."""
    from backend.domain.broker import CredentialsError
    from backend.services.telemetry.broker_accounts import service_login

    if urlparse(settings.mqtt_url).username:
        return None
    try:
        login = service_login(settings.mqtt_credentials, who)
    except CredentialsError as exc:
        fail(f"PILOTSHARE_MQTT_CREDENTIALS: {exc}")
    if login is None:
        typer.echo(
            f"warning: no MQTT account for {who}: no user in PILOTSHARE_MQTT_URL and no"
            f" {settings.mqtt_credentials} (pilotshare mqtt credentials); the broker refuses anonymous"
            " clients",
            err=True,
        )
    return login


def api(
    host: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="overrides PILOTSHARE_PORT")] = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the HTTP API and web UI (uvicorn; stops cleanly on SIGTERM)."""
    import uvicorn

    settings = settings_from(host=host, port=port, database_url=database_url)
    try:
        settings.check_secret()
    except RuntimeError as exc:
        fail(str(exc))
    os.environ["PILOTSHARE_DATABASE_URL"] = settings.database_url  # the app factory reads the environment
    uvicorn.run(
        "backend.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )


def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    database_url: DatabaseOpt = None,
) -> None:
    """Migrate, seed the demo platform, and run the API; Ctrl-C or SIGTERM stops everything."""
    from backend.migrations import upgrade
    from backend.services.demo.seed import demo_data

    os.environ.setdefault("PILOTSHARE_DEMO_MODE", "true")
    settings = settings_from(database_url=database_url, demo_mode=True)
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    plan = Path(".var/demo-history.json")
    seed_demo_command(database_url=settings.database_url, fleet_devices=0, history=plan)
    _demo_broker_accounts(settings)
    env = {**os.environ, "PILOTSHARE_DATABASE_URL": settings.database_url, "PILOTSHARE_DEMO_MODE": "true"}
    me = [sys.executable, "-m", "pilotshare"]
    ingest_process, subscribed = _start_ingest(me, env)
    if not subscribed.wait(30):
        typer.echo("note: ingest has not subscribed after 30 s; the history replay may be lost", err=True)
    _replay_history(me, env, settings, plan)
    api_process = subprocess.Popen([*me, "api", "--host", host, "--port", str(port)], env=env)
    dispatcher = subprocess.Popen([*me, "commands"], env=env)  # setpoints and interlocks to the fleet
    fleet_devices = sum(1 for r in demo_data()["resources"] if r.get("device_type"))
    fleet = subprocess.Popen(
        [
            *me,
            "simulate",
            "--devices",
            str(fleet_devices),
            "--hz",
            "1",
            "--duration",
            str(365 * 24 * 3600),
            "--excursion-rate-per-h",  # now and then a furnace overheats or a pH drifts: the alarm rules fire
            "0.5",
            "--mqtt-url",
            settings.mqtt_url,
            "--credentials",
            str(settings.mqtt_credentials),
        ],
        env=env,
    )
    typer.echo(f"\nPilotShare demo is up: http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    typer.echo(f"Simulated fleet: {fleet_devices} instruments publishing to {settings.mqtt_url}")
    typer.echo(f"Ingest: {settings.mqtt_url} -> {settings.influx_url} (twins: /api/v1/resources/ID/twin)")
    typer.echo("Stop with Ctrl-C.")
    _supervise(critical=api_process, helpers=[fleet, ingest_process, dispatcher])


#: where scripts/services.sh has the demo's Mosquitto write its pid
DEMO_BROKER_PID = Path(".var/mosquitto/mosquitto.pid")


def _demo_broker_accounts(settings: Settings) -> None:
    """Accounts for the demo's resources, now that they are seeded, and the demo broker reloading them."""
    from backend.adapters.broker_files import reload_broker
    from backend.db import make_engine
    from backend.services.telemetry.broker_accounts import write_credentials

    engine = make_engine(settings)
    try:
        written = write_credentials(engine, settings.mqtt_credentials.parent)
    finally:
        engine.dispose()
    typer.echo(
        f"broker accounts: {len(written.accounts.agents)} agents, ingest, backend in {written.directory}"
    )
    if reload_broker(DEMO_BROKER_PID) is None:
        typer.echo(
            f"warning: the demo broker is not running ({DEMO_BROKER_PID}); a broker of your own must load"
            f" {written.directory / 'mosquitto.conf'} (docs/security.md)",
            err=True,
        )


def _start_ingest(me: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], threading.Event]:
    """`pilotshare ingest`, its log passed through, and an event set when it logs its SUBACK: the broker
    routes nothing to a new session before it, so the history must wait for it."""
    process = subprocess.Popen([*me, "ingest"], env=env, stderr=subprocess.PIPE)
    subscribed = threading.Event()

    def relay() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            if b"ingest.subscribed" in line:
                subscribed.set()

    threading.Thread(target=relay, name="ingest-log", daemon=True).start()
    return process, subscribed


def _replay_history(me: list[str], env: dict[str, str], settings: Settings, plan: Path) -> None:
    """The demo's past through the real path: the simulated instruments publish their past runs, ingest
    stores them and measures use; then last month is invoiced. A slow or missing broker only costs the
    history, never the demo."""
    from backend.db import make_engine, unit_of_work, writer
    from backend.services.demo.history import measured_runs, settle_last_month

    runs = len(json.loads(plan.read_text(encoding="utf-8"))["runs"])
    done = subprocess.run(
        [
            *me,
            "simulate-history",
            "--plan",
            str(plan),
            "--mqtt-url",
            settings.mqtt_url,
            "--credentials",
            str(settings.mqtt_credentials),
        ],
        env=env,
        stdout=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        typer.echo("note: the demo's history could not be replayed; run data and usage start empty", err=True)
    engine = make_engine(settings)
    deadline, seen, measured = time.monotonic() + 30, -1, 0
    while done.returncode == 0 and time.monotonic() < deadline:
        with unit_of_work(engine) as session:
            measured = measured_runs(session)
        if measured >= runs or (measured and measured == seen):
            break
        seen = measured
        time.sleep(1)
    with unit_of_work(writer(engine)) as session:
        invoices = settle_last_month(session)
    engine.dispose()
    typer.echo(f"demo history: {measured} of {runs} past runs measured, {invoices} invoices for last month")


def _supervise(critical: subprocess.Popen[bytes], helpers: list[subprocess.Popen[bytes]]) -> None:
    """Run until the critical child ends or we are told to stop; then stop every child."""
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    reported: set[int] = set()
    while not stopping and critical.poll() is None:
        for helper in helpers:
            if helper.poll() is not None and helper.pid not in reported:
                reported.add(helper.pid)
                typer.echo(f"note: helper process {helper.pid} ended with code {helper.returncode}", err=True)
        time.sleep(0.5)
    children = [critical, *helpers]
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    if not stopping:
        raise typer.Exit(1)
