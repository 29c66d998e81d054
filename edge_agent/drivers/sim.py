"""An in-process simulated instrument (``simulators.devices``) for demos without protocol servers.

The only place the edge agent touches ``simulators``, imported when the driver is made, so an agent on a
real instrument never needs that package.
"""

from __future__ import annotations

import time
from typing import Any

from edge_agent.drivers import CommandRefused, FieldValue
from edge_agent.settings import SimSettings


class SimDriver:
    name = "sim"

    def __init__(self, settings: SimSettings) -> None:
        from simulators.devices import make_device

        self.settings = settings
        self.device = make_device(settings.device_type, settings.code, settings.seed, settings.attributes)
        self._last = time.monotonic()
        if settings.start_run:
            self.device.start_run()

    async def connect(self) -> None:
        self._last = time.monotonic()

    async def read(self) -> dict[str, FieldValue]:
        now = time.monotonic()
        self.device.tick((now - self._last) * self.settings.speed)
        self._last = now
        return dict(self.device.read())

    async def command(self, action: str, args: dict[str, Any]) -> None:
        from simulators.devices import DeviceError

        try:
            self.device.handle_command(action, args)
        except DeviceError as exc:
            raise CommandRefused(str(exc)) from None

    async def close(self) -> None:
        pass

    def describe(self) -> dict[str, FieldValue]:
        return {"driver": "sim", **self.device.describe()}
