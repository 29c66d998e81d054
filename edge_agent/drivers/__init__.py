"""Instrument drivers: read the mapped signals, write commands, report a dropped connection honestly.

``make_driver(settings.device)`` returns the driver named in the config. Each module imports its protocol
library (asyncua, pymodbus, the simulators) only when the driver is made, so a Modbus agent never loads
asyncua.
"""

from __future__ import annotations

from typing import Any, Protocol

from edge_agent.settings import DeviceSettings

FieldValue = bool | int | float | str


class DriverError(Exception):
    """The instrument cannot be reached or answered nonsense; the agent reconnects with back-off."""


class CommandRefused(Exception):
    """The instrument (or the driver) refused a command; the message says why."""


class Driver(Protocol):
    name: str

    async def connect(self) -> None: ...

    async def read(self) -> dict[str, FieldValue]: ...

    async def command(self, action: str, args: dict[str, Any]) -> None:
        """Apply ``lock`` / ``unlock`` / ``setpoint``; CommandRefused or DriverError when it cannot."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, FieldValue]:
        """Static facts for the retained birth message."""
        ...


def make_driver(settings: DeviceSettings) -> Driver:
    if settings.driver == "modbus":
        from edge_agent.drivers.modbus import ModbusDriver

        assert settings.modbus is not None
        return ModbusDriver(settings.modbus)
    if settings.driver == "opcua":
        from edge_agent.drivers.opcua import OpcUaDriver

        assert settings.opcua is not None
        return OpcUaDriver(settings.opcua)
    from edge_agent.drivers.sim import SimDriver

    assert settings.sim is not None
    return SimDriver(settings.sim)
