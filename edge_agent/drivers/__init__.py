"""Instrument drivers: read the mapped signals, write commands, report a dropped connection honestly.

A driver is built in (``opcua`` and ``modbus``, in this package) or registered by another installed
package (``edge_agent.registry``; the simulators register ``sim``). Each driver imports its protocol
library only when it is loaded, so a Modbus agent never loads asyncua.
"""

from __future__ import annotations

from typing import Any

from edge_agent.protocol import Driver
from edge_agent.registry import driver_class


def make_driver(name: str, settings: Any) -> Driver:
    """Driver `name` made from its validated config section."""
    driver: Driver = driver_class(name)(settings)
    return driver
