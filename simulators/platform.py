"""The demo platform file and the fleet's device list derived from it.

``simulators/data/demo_platform.json`` is read by both the backend demo seed and the simulated fleet, so the
system knows every simulated device. Fleet device ``i`` is the i-th resource with a ``device_type``; beyond
those, device ``i`` copies the type and attributes of resource ``i % count`` and gets code ``SIM-{i:04d}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.devices import Device, make_device

DEMO_PLATFORM_PATH = Path(__file__).parent / "data" / "demo_platform.json"


@dataclass(frozen=True)
class DeviceSpec:
    code: str
    device_type: str
    attributes: dict[str, Any] = field(default_factory=dict)
    name: str = ""


def load_platform(path: str | Path | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path or DEMO_PLATFORM_PATH).read_text(encoding="utf-8"))
    return data


def fleet_specs(n: int, platform: dict[str, Any] | None = None) -> list[DeviceSpec]:
    data = platform if platform is not None else load_platform()
    typed = [r for r in data["resources"] if r.get("device_type")]
    if not typed:
        raise ValueError("the platform file has no resource with a device_type")
    specs = []
    for i in range(n):
        base = typed[i % len(typed)]
        code = base["code"] if i < len(typed) else f"SIM-{i:04d}"
        specs.append(
            DeviceSpec(code, base["device_type"], dict(base.get("attributes", {})), base.get("name_en", ""))
        )
    return specs


def build_fleet(
    n: int,
    seed: int = 0,
    platform: dict[str, Any] | None = None,
    fault_rate_per_h: float = 0.0,
    start_ns: int | None = None,
    excursion_rate_per_h: float = 0.0,
) -> list[Device]:
    kw: dict[str, Any] = {"fault_rate_per_h": fault_rate_per_h, "excursion_rate_per_h": excursion_rate_per_h}
    if start_ns is not None:
        kw["start_ns"] = start_ns
    return [make_device(s.device_type, s.code, seed, s.attributes, **kw) for s in fleet_specs(n, platform)]
