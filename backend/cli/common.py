"""What every backend command shares: settings from the environment and flags, and a clean failure."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from backend.logs import configure_logging
from backend.settings import Settings

DatabaseOpt = Annotated[str | None, typer.Option("--database-url", help="overrides PILOTSHARE_DATABASE_URL")]


def settings_from(**overrides: Any) -> Settings:
    """Settings from the environment, `.env` and the command's flags; a bad value ends the command
    with the setting's name and what is wrong (exit code 2), not a traceback."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"PILOTSHARE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
            f" (got {e['input']!r})"
            for e in exc.errors()
        )
        fail(f"bad setting: {problems}")
    configure_logging(settings.log_level, settings.log_json)
    return settings


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
