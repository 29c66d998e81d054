"""The `pilotshare` command: one entry point for every process and administration task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from backend.logs import configure_logging
from backend.settings import Settings
from edge_agent.cli import edge_agent_command
from scheduler.cli import schedule_app
from simulators.cli import simulate

app = typer.Typer(
    help="PilotShare: share pilot lines, instruments and venues with SMEs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
seed_app = typer.Typer(help="Load data.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
outbox_app = typer.Typer(help="Notification outbox (e-mail, webhooks).", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log (docs/audit.md).", no_args_is_help=True)
report_app = typer.Typer(help="Reports for the evaluating authority (docs/reports.md).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(users_app, name="users")
app.add_typer(outbox_app, name="outbox")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.add_typer(schedule_app, name="schedule")
app.command("simulate", help="Run a simulated fleet of instruments (see docs/simulators.md).")(simulate)
app.command("edge-agent", help="Run one edge agent beside an instrument (docs/edge-agent.md).")(
    edge_agent_command
)

DatabaseOpt = Annotated[str | None, typer.Option("--database-url", help="overrides PILOTSHARE_DATABASE_URL")]


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment, `.env` and the command's flags; a bad value ends the command
    with the setting's name and what is wrong (exit code 2), not a traceback."""
    from pydantic import ValidationError

    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"PILOTSHARE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
            f" (got {e['input']!r})"
            for e in exc.errors()
        )
        _fail(f"bad setting: {problems}")
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None, revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from backend.migrations import upgrade

    settings = _settings(database_url=database_url)
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}: {settings.database_url.split('@')[-1]}")


@seed_app.command("demo")
def seed_demo_command(
    database_url: DatabaseOpt = None,
    fleet_devices: Annotated[
        int, typer.Option(help="also register simulated devices SIM-0010 ... up to N")
    ] = 0,
) -> None:
    """Create the demo platform, SMEs and users (once), and print the logins."""
    from backend.db import make_engine, unit_of_work
    from backend.services.seed import seed_demo

    settings = _settings(database_url=database_url)
    engine = make_engine(settings)
    with unit_of_work(engine) as session:
        logins = seed_demo(session, fleet_devices)
    engine.dispose()
    typer.echo("demo logins (e-mail / password / role):")
    for login in logins:
        typer.echo(f"  {login.email:32} {login.password:20} {login.role:9} {login.note}")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin | operator | sme | auditor")],
    org: Annotated[str | None, typer.Option(help="organization code")] = None,
    platform: Annotated[str | None, typer.Option(help="platform code (operators)")] = None,
    full_name: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a user account."""
    from pydantic import ValidationError

    from backend.db import make_engine, unit_of_work
    from backend.domain.access import Role
    from backend.domain.errors import DomainError
    from backend.models.user import UserCreate
    from backend.services.platforms import platform_by_code
    from backend.services.users import create_user, organization_by_code

    settings = _settings(database_url=database_url)
    engine = make_engine(settings)
    try:
        with unit_of_work(engine) as session:
            data = UserCreate(
                email=email,
                password=password,
                role=Role(role) if role in Role.__members__ else role,  # type: ignore[arg-type]
                full_name=full_name or email.split("@")[0],
                organization_id=organization_by_code(session, org).id if org else None,
                platform_id=platform_by_code(session, platform).id if platform else None,
            )
            user = create_user(session, None, data)
            typer.echo(f"created user {user.id} {user.email} ({user.role})")
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    except DomainError as exc:
        _fail(exc.message)
    finally:
        engine.dispose()


@outbox_app.command("deliver")
def outbox_deliver(
    once: Annotated[bool, typer.Option("--once", help="one run, then exit")] = False,
    every: Annotated[float, typer.Option(help="seconds between runs")] = 30,
    database_url: DatabaseOpt = None,
) -> None:
    """Send due notifications (SMTP settings PILOTSHARE_SMTP_*); prints one JSON line per run.

    Safe beside the API's own delivery job and other instances: each message is claimed by one run."""
    import json

    from backend.db import make_engine
    from backend.services.delivery import deliver_pending

    settings = _settings(database_url=database_url)
    engine = make_engine(settings)
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    if not once:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    try:
        while True:
            report = deliver_pending(engine, settings)
            typer.echo(json.dumps(report.as_dict()))
            deadline = time.monotonic() + every
            while not once and not stopping and time.monotonic() < deadline:
                time.sleep(min(0.5, every))
            if once or stopping:
                break
    finally:
        engine.dispose()


@audit_app.command("verify")
def audit_verify(database_url: DatabaseOpt = None) -> None:
    """Recompute the audit chain: exit 0 and one summary line when intact, exit 1 naming the first bad row."""
    from sqlalchemy.exc import DBAPIError

    from backend.db import make_engine
    from backend.services.audit import verify_chain

    settings = _settings(database_url=database_url)
    engine = make_engine(settings)
    try:
        verdict = verify_chain(engine)
    except DBAPIError as exc:
        _fail(f"cannot read the audit log ({str(exc.orig).strip()}); run `pilotshare db upgrade` first")
    finally:
        engine.dispose()
    if verdict.first_bad is None:
        head = verdict.head
        typer.echo(f"audit chain intact: {verdict.events} events, head seq {head.seq} hash {head.hash}")
        return
    bad = verdict.first_bad
    found = "missing" if bad.seq is None else f"row seq {bad.seq}"
    typer.echo(f"audit chain broken at seq {bad.expected_seq} ({found}): {bad.reason}")
    raise typer.Exit(1)


def _day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: not a date (YYYY-MM-DD): {value!r}")


@report_app.command("sharing")
def report_sharing(
    first: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="last day (inclusive), YYYY-MM-DD")],
    platform: Annotated[str | None, typer.Option(help="platform code; every platform when omitted")] = None,
    format: Annotated[str, typer.Option("--format", help="json | csv | html")] = "json",
    database_url: DatabaseOpt = None,
) -> None:
    """Sharing performance per platform (effective and external hours, sharing rate, SMEs served,
    bookings, response times, booked vs actual, income) with the audit chain's fingerprint."""
    from backend.db import make_engine
    from backend.domain.errors import DomainError, Invalid
    from backend.services.reports import sharing
    from backend.web.reports import ReportFormat, render

    if format not in ReportFormat.__members__:
        _fail(f"--format: one of json, csv, html (got {format!r})")
    start, end = _day("--from", first), _day("--to", last)
    settings = _settings(database_url=database_url)
    engine = make_engine(settings)
    try:
        report = sharing(engine, None, start, end, platform)
    except Invalid as exc:
        _fail(f"--{exc.field}: {exc.message.removeprefix(exc.field + ': ')}")
    except DomainError as exc:
        _fail(exc.message)
    finally:
        engine.dispose()
    typer.echo(render(report, ReportFormat(format)), nl=False)


@app.command()
def ingest(
    mqtt_url: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_MQTT_URL")] = None,
    influx_url: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_INFLUX_URL")] = None,
    influx_db: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_INFLUX_DB")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id; the broker keeps its session")] = (
        "pilotshare-ingest"
    ),
    database_url: DatabaseOpt = None,
) -> None:
    """MQTT telemetry into InfluxDB, twin state and alarms into the database (docs/ingest.md).

    Stops cleanly on SIGTERM: what was received is written and acknowledged first; prints one JSON
    line with the counts at the end."""
    import json

    import httpx

    from backend.db import make_engine
    from backend.domain.usage import UsageRules
    from backend.ingest.influx import InfluxClient, InfluxError, InfluxWriter
    from backend.ingest.service import Ingest

    settings = _settings(
        mqtt_url=mqtt_url, influx_url=influx_url, influx_db=influx_db, database_url=database_url
    )
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
        usage_rules=UsageRules(settings.usage_min_seconds),
    )
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
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
        "twins_changed": stats.twins_changed,
        "alarms": stats.alarms,
        "usage_sessions_changed": stats.usage_sessions_changed,
        "unknown_resources": sum(stats.unknown_resources.values()),
        "lines_written": service.influx.stats.lines_written,
        "lines_dropped": service.influx.stats.lines_dropped,
    }
    typer.echo(json.dumps(summary))


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="overrides PILOTSHARE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="overrides PILOTSHARE_PORT")] = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the HTTP API and web UI (uvicorn; stops cleanly on SIGTERM)."""
    import uvicorn

    settings = _settings(host=host, port=port, database_url=database_url)
    try:
        settings.check_secret()
    except RuntimeError as exc:
        _fail(str(exc))
    os.environ["PILOTSHARE_DATABASE_URL"] = settings.database_url  # the app factory reads the environment
    uvicorn.run(
        "backend.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips="*",
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    database_url: DatabaseOpt = None,
) -> None:
    """Migrate, seed the demo platform, and run the API; Ctrl-C or SIGTERM stops everything."""
    from backend.migrations import upgrade
    from backend.services.seed import demo_data

    os.environ.setdefault("PILOTSHARE_DEMO_MODE", "true")
    settings = _settings(database_url=database_url, demo_mode=True)
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    seed_demo_command(database_url=settings.database_url, fleet_devices=0)
    env = {**os.environ, "PILOTSHARE_DATABASE_URL": settings.database_url, "PILOTSHARE_DEMO_MODE": "true"}
    me = [sys.executable, "-m", "backend.cli"]
    api_process = subprocess.Popen([*me, "api", "--host", host, "--port", str(port)], env=env)
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
            "--mqtt-url",
            settings.mqtt_url,
        ],
        env=env,
    )
    ingest_process = subprocess.Popen([*me, "ingest"], env=env)
    typer.echo(f"\nPilotShare demo is up: http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    typer.echo(f"Simulated fleet: {fleet_devices} instruments publishing to {settings.mqtt_url}")
    typer.echo(f"Ingest: {settings.mqtt_url} -> {settings.influx_url} (twins: /api/v1/resources/ID/twin)")
    typer.echo("Stop with Ctrl-C.")
    _supervise(critical=api_process, helpers=[fleet, ingest_process])


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


if __name__ == "__main__":
    sys.path.insert(0, str(Path.cwd()))
    app()
