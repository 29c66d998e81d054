"""Administration commands: database, demo data, users, the notification outbox, audit and reports."""

from __future__ import annotations

import json
import signal
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from backend.cli.common import DatabaseOpt, fail, settings_from

db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
seed_app = typer.Typer(help="Load data.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
outbox_app = typer.Typer(help="Notification outbox (e-mail, webhooks).", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log (docs/audit.md).", no_args_is_help=True)
report_app = typer.Typer(help="Reports for the evaluating authority (docs/reports.md).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None, revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from backend.migrations import upgrade

    settings = settings_from(database_url=database_url)
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}: {settings.database_url.split('@')[-1]}")


@seed_app.command("demo")
def seed_demo_command(
    database_url: DatabaseOpt = None,
    fleet_devices: Annotated[
        int, typer.Option(help="also register simulated devices SIM-0010 ... up to N")
    ] = 0,
    history: Annotated[
        Path | None,
        typer.Option(
            help="also make the past eight weeks of bookings and write the runs the instruments must have "
            "reported to this file (for `pilotshare simulate-history --plan`)"
        ),
    ] = None,
) -> None:
    """Create the demo platform, SMEs and users (once), and print the logins."""
    from backend.db import make_engine, unit_of_work
    from backend.services.demo.history import seed_history
    from backend.services.demo.seed import demo_data, seed_demo

    settings = settings_from(database_url=database_url)
    engine = make_engine(settings)
    with unit_of_work(engine) as session:
        logins = seed_demo(session, fleet_devices)
    if history is not None:
        with unit_of_work(engine) as session:
            plan = seed_history(session, demo_data()["platform"]["code"])
        history.parent.mkdir(parents=True, exist_ok=True)
        history.write_text(json.dumps(plan.as_dict(), indent=1), encoding="utf-8")
        typer.echo(f"demo history: {plan.bookings} bookings, {len(plan.runs)} runs to replay ({history})")
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
    from backend.services.accounts.users import create_user, organization_by_code
    from backend.services.catalog.platforms import platform_by_code

    settings = settings_from(database_url=database_url)
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
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    except DomainError as exc:
        fail(exc.message)
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

    from backend.db import make_engine
    from backend.services.notifications.delivery import deliver_pending

    settings = settings_from(database_url=database_url)
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

    settings = settings_from(database_url=database_url)
    engine = make_engine(settings)
    try:
        verdict = verify_chain(engine)
    except DBAPIError as exc:
        fail(f"cannot read the audit log ({str(exc.orig).strip()}); run `pilotshare db upgrade` first")
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
        fail(f"{option}: not a date (YYYY-MM-DD): {value!r}")


def _moment(option: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a time (e.g. 2026-12-31T23:59:59+08:00): {value!r}")
    if moment.tzinfo is None:
        fail(f"{option}: give a time zone, e.g. 2026-12-31T23:59:59+08:00")
    return moment


@report_app.command("sharing")
def report_sharing(
    first: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="last day (inclusive), YYYY-MM-DD")],
    platform: Annotated[str | None, typer.Option(help="platform code; every platform when omitted")] = None,
    format: Annotated[str, typer.Option("--format", help="json | csv | html")] = "json",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="count booked time up to this moment (default: now)")
    ] = None,
    rubric: Annotated[str | None, typer.Option(help="rubric id of the score (default: the setting)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Sharing performance per platform (effective and external hours, sharing rate, SMEs served,
    bookings, response times, booked vs actual, income) with the audit chain's fingerprint."""
    from backend.db import make_engine
    from backend.domain.errors import DomainError, Invalid
    from backend.services.compliance.exports import ReportFormat, render
    from backend.services.compliance.reports import sharing

    if format not in ReportFormat.__members__:
        fail(f"--format: one of json, csv, html (got {format!r})")
    start, end = _day("--from", first), _day("--to", last)
    moment = _moment("--as-of", as_of) if as_of is not None else None
    settings = settings_from(database_url=database_url)
    engine = make_engine(settings)
    try:
        report = sharing(
            engine, None, start, end, platform, moment, rubric or settings.score_rubric, settings.rubrics_dir
        )
    except Invalid as exc:
        fail(f"--{exc.field}: {exc.message.removeprefix(exc.field + ': ')}")
    except DomainError as exc:
        fail(exc.message)
    finally:
        engine.dispose()
    typer.echo(render(report, ReportFormat(format)), nl=False)
