"""The edge agent's ``sim`` driver: an in-process simulated instrument for demos without protocol servers.

Registered under the entry-point group ``pilotshare.drivers`` (pyproject.toml), so the edge agent finds
it without importing this package; an agent beside a real instrument never loads it.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edge_agent.protocol import CommandRefused, DriverValue
from simulators.devices import DeviceError, make_device


class SimSettings(BaseModel):
    """The ``device.sim`` section of an agent's config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_type: str = "fermenter"
    code: str = "SIM-1"
    seed: int = 0
    #: start a run when the agent starts, so the signals move
    start_run: bool = True
    #: simulated seconds per real second
    speed: float = Field(1.0, gt=0, le=10_000)
    attributes: dict[str, Any] = Field(default_factory=dict)


class SimDriver:
    name = "sim"
    Settings = SimSettings

    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self.device = make_device(settings.device_type, settings.code, settings.seed, settings.attributes)
        self._last = time.monotonic()
        if settings.start_run:
            self.device.start_run()

    async def connect(self) -> None:
        self._last = time.monotonic()

    async def read(self) -> dict[str, DriverValue]:
        now = time.monotonic()
        self.device.tick((now - self._last) * self.settings.speed)
        self._last = now
        return dict(self.device.read())

    async def command(self, action: str, args: dict[str, Any]) -> None:
        try:
            self.device.handle_command(action, args)
        except DeviceError as exc:
            raise CommandRefused(str(exc)) from None

    async def close(self) -> None:
        pass

    def describe(self) -> dict[str, DriverValue]:
        return {"driver": "sim", **self.device.describe()}
