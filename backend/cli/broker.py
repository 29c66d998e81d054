"""`pilotshare mqtt ...`: the broker's accounts (docs/security.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backend.cli.common import DatabaseOpt, fail, settings_from

mqtt_app = typer.Typer(
    help="The MQTT broker's accounts and access rules (docs/security.md).", no_args_is_help=True
)


@mqtt_app.command("credentials")
def credentials(
    out: Annotated[
        Path, typer.Option("--out", help="folder for passwd, acl, mosquitto.conf, credentials.json")
    ],
    rotate: Annotated[
        list[str] | None,
        typer.Option(
            "--rotate", help="platform/resource, ingest or backend: give it a new password (repeatable)"
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="the broker's persistence folder (default OUT/data)")
    ] = None,
    reload: Annotated[
        Path | None,
        typer.Option("--reload", help="pid file of the running Mosquitto: make it read the files"),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Write Mosquitto's password file, ACL file and configuration fragment, and credentials.json, for
    every resource in the registry plus ingest and the backend. Existing passwords are kept unless
    rotated; `listener PORT` followed by OUT/mosquitto.conf is a whole broker configuration."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from backend.adapters.broker_files import reload_broker
    from backend.db import make_engine
    from backend.domain.broker import CredentialsError
    from backend.services.telemetry.broker_accounts import write_credentials

    settings = settings_from(database_url=database_url)
    engine = make_engine(settings)
    try:
        written = write_credentials(engine, out, rotate or [], data)
    except CredentialsError as exc:
        fail(str(exc))
    except (OperationalError, ProgrammingError) as exc:
        fail(
            f"cannot read the resource registry ({str(exc).splitlines()[0]});"
            " run `pilotshare db upgrade` first"
        )
    finally:
        engine.dispose()
    changes = [
        f"{what}: {', '.join(keys)}"
        for what, keys in (
            ("added", written.added),
            ("removed", written.removed),
            ("rotated", written.rotated),
        )
        if keys
    ]
    typer.echo(
        f"wrote {written.directory}: {len(written.accounts.agents)} agent account(s), ingest and backend"
        + (f" ({'; '.join(changes)})" if changes else "")
    )
    if reload is not None:
        pid = reload_broker(reload)
        if pid is None:
            typer.echo(f"note: no running broker in {reload}; start it with these files", err=True)
        else:
            typer.echo(f"broker (pid {pid}) is reloading its accounts")
