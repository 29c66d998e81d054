"""The `pilotshare` command: one entry point for every process and administration task.

This module only assembles: the backend's commands (API, ingest, demo, administration), the edge
agent, the simulators and the scheduler each define their own, and none of them imports another's.
"""

from __future__ import annotations

import typer

from backend.cli import add_backend_commands
from edge_agent.cli import edge_agent_command
from scheduler.cli import schedule_app
from simulators.cli import simulate, simulate_history

app = typer.Typer(
    help="PilotShare: share pilot lines, instruments and venues with SMEs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
add_backend_commands(app)
app.add_typer(schedule_app, name="schedule")
app.command("simulate", help="Run a simulated fleet of instruments (see docs/simulators.md).")(simulate)
app.command("simulate-history", help="Publish a platform's past runs as its instruments reported them.")(
    simulate_history
)
app.command("edge-agent", help="Run one edge agent beside an instrument (docs/edge-agent.md).")(
    edge_agent_command
)
