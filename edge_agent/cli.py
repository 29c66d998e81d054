"""``pilotshare edge-agent --config FILE``: run one edge agent until SIGTERM or SIGINT.

Module-level imports stay light (typer only): ``pilotshare/cli.py`` imports this module for every
``pilotshare`` command, and asyncua / pymodbus / paho load only when an agent actually runs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import typer


def _configure_logging(level: str, agent_id: str, resource: str) -> None:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s %(levelname)s %(name)s agent={agent_id} resource={resource} %(message)s",
        force=True,
    )
    for noisy in ("asyncua", "pymodbus"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


async def _main(settings: object) -> None:
    from edge_agent.agent import run_agent
    from edge_agent.settings import AgentSettings

    assert isinstance(settings, AgentSettings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_agent(settings, stop)


def edge_agent_command(
    config: Path = typer.Option(..., "--config", help="agent config file (.yaml, .toml or .json)"),
    log_level: str | None = typer.Option(None, "--log-level", help="overrides log_level of the config"),
) -> None:
    """Run one edge agent: read the instrument, publish telemetry over MQTT, apply commands."""
    from edge_agent.settings import ConfigError, load_settings

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(f"error: bad config: {exc}", err=True)
        raise typer.Exit(2) from None
    level = (log_level or settings.log_level).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        typer.echo(f"error: --log-level: {log_level!r} is not DEBUG, INFO, WARNING or ERROR", err=True)
        raise typer.Exit(2)
    _configure_logging(level, settings.agent_id, f"{settings.platform}/{settings.resource}")
    asyncio.run(_main(settings))


def main() -> None:
    """``python -m edge_agent.cli --config FILE`` without the pilotshare entry point."""
    typer.run(edge_agent_command)


if __name__ == "__main__":
    main()
