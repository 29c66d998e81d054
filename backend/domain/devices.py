"""What a device says about itself in its birth message (`status` `fields`), read back from its twin.

Edge agents and the simulated fleet describe their signals and setpoints as text, one entry per name
with its unit: ``"temperature_sp_c[°C],agitation_sp_rpm[rpm]"``.
"""

from __future__ import annotations

import re

_ENTRY = re.compile(r"^\s*([^\[\],]+?)\s*(?:\[([^\]]*)\])?\s*$")


def declared_names(text: object) -> dict[str, str]:
    """``{name: unit}`` from a declaration like ``"a[°C],b[rpm]"``; empty when there is none."""
    if not isinstance(text, str):
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        match = _ENTRY.match(part)
        if match and match.group(1):
            out[match.group(1)] = match.group(2) or ""
    return out
