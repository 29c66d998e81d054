"""Protocol servers that make a simulated (or replayed) device look like a real instrument.

``make_server("opcua" | "modbus", device, host, port)`` returns an object with async ``start()``,
``update()`` (push the device's current values) and ``stop()``. asyncua and pymodbus are imported only
when a server is made, so the fleet's MQTT mode does not pay for them.
"""

from __future__ import annotations

from typing import Protocol

from simulators.devices.base import Device


class DeviceServer(Protocol):
    port: int

    async def start(self) -> None: ...

    async def update(self) -> None: ...

    async def stop(self) -> None: ...


def make_server(protocol: str, devices: list[Device], host: str = "127.0.0.1", port: int = 0) -> DeviceServer:
    """An OPC UA server hosts any number of devices (one object each); a Modbus server exactly one."""
    if protocol == "opcua":
        from simulators.servers.opcua import OpcUaDeviceServer

        return OpcUaDeviceServer(devices, host, port or 4840)
    if protocol == "modbus":
        from simulators.servers.modbus import ModbusDeviceServer

        if len(devices) != 1:
            raise ValueError("a Modbus TCP server serves exactly one device")
        return ModbusDeviceServer(devices[0], host, port or 5020)
    raise ValueError(f"protocol: {protocol!r} is not one of opcua, modbus")
