"""Which instrument drivers exist: the built-in ones and those installed packages register under the
entry-point group ``pilotshare.drivers`` (``edge_agent.protocol`` describes what such a driver provides)."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from edge_agent.protocol import DRIVER_ENTRY_POINTS

BUILT_IN = {
    "opcua": "edge_agent.drivers.opcua:OpcUaDriver",
    "modbus": "edge_agent.drivers.modbus:ModbusDriver",
}


def installed_drivers() -> dict[str, str]:
    """Driver name -> ``module:Class``: the built-in ones and those installed packages register."""
    found = {ep.name: ep.value for ep in entry_points(group=DRIVER_ENTRY_POINTS)}
    return {**found, **BUILT_IN}


def driver_class(name: str) -> Any:
    """The class of driver `name`; ValueError naming the installed drivers when there is none."""
    drivers = installed_drivers()
    if name not in drivers:
        raise ValueError(f"no driver named {name!r} is installed (installed: {', '.join(sorted(drivers))})")
    module, _, attribute = drivers[name].partition(":")
    return getattr(import_module(module), attribute)
