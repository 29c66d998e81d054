"""The backend's commands. `pilotshare/cli.py` assembles them with the edge agent's, the simulators' and
the scheduler's into the one `pilotshare` command. Commands import their use cases inside the function:
`pilotshare --help` and the light commands then start without loading the web stack."""

from __future__ import annotations

import typer

from backend.cli import admin, broker, processes


def add_backend_commands(app: typer.Typer) -> None:
    app.add_typer(admin.db_app, name="db")
    app.add_typer(admin.seed_app, name="seed")
    app.add_typer(admin.users_app, name="users")
    app.add_typer(admin.outbox_app, name="outbox")
    app.add_typer(admin.audit_app, name="audit")
    app.add_typer(admin.report_app, name="report")
    app.add_typer(broker.mqtt_app, name="mqtt")
    app.command("api")(processes.api)
    app.command("ingest")(processes.ingest)
    app.command("commands")(processes.commands)
    app.command("demo")(processes.demo)
