"""Simulated instruments, one module per type; ``make_device`` builds one by its ``device_type``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulators.devices.am_cell import AmCell
from simulators.devices.base import FAULT_KINDS, STATES, Device, DeviceError, Setpoint, Signal
from simulators.devices.fermenter import Fermenter
from simulators.devices.freeze_dryer import FreezeDryer
from simulators.devices.furnace import Furnace
from simulators.devices.hplc import Hplc
from simulators.devices.spray_dryer import SprayDryer

DEVICE_TYPES: dict[str, type[Device]] = {
    cls.device_type: cls for cls in (Fermenter, SprayDryer, FreezeDryer, Furnace, Hplc, AmCell)
}


def make_device(
    device_type: str, code: str, seed: int = 0, attributes: Mapping[str, Any] | None = None, **kw: Any
) -> Device:
    try:
        cls = DEVICE_TYPES[device_type]
    except KeyError:
        raise DeviceError(f"unknown device_type {device_type!r} (known: {', '.join(DEVICE_TYPES)})") from None
    return cls(code, seed, attributes, **kw)


__all__ = [
    "DEVICE_TYPES",
    "FAULT_KINDS",
    "STATES",
    "Device",
    "DeviceError",
    "Setpoint",
    "Signal",
    "make_device",
]
