"""`simulate` registers on a Typer app as the lead wires it into `pilotshare`."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.testing import CliRunner

from simulators.cli import simulate


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)

    @app.command()
    def other() -> None:  # a second command so Typer keeps the subcommand name
        pass

    return app


def test_simulate_help_lists_the_contract_options() -> None:
    result = CliRunner().invoke(_app(), ["simulate", "--help"])
    assert result.exit_code == 0
    for option in ("--devices", "--hz", "--duration", "--protocol", "--seed", "--mqtt-url", "--platform"):
        assert option in result.output


def test_bad_protocol_is_refused_naming_the_option() -> None:
    result = CliRunner().invoke(_app(), ["simulate", "--protocol", "zigbee", "--duration", "0"])
    assert result.exit_code != 0
    assert "--protocol" in result.output


def test_cli_module_imports_no_protocol_stacks() -> None:
    # the backend CLI imports simulators.cli at start-up; paho/asyncua/pymodbus must wait until used
    code = (
        "import sys, simulators.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'asyncua', 'pymodbus', 'paho'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"
