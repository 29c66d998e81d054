"""Seeded SME demand: a stream of booking requests written as the contract's scheduling problem file.

Arrivals are a Poisson process over the first part of the horizon (an SME asks, then wants the work done
within a window). Each request follows a process route — e.g. ferment -> spray-dry -> analyse — whose
steps draw durations from per-instrument-type ranges and list every resource able to do them (by
capability and scale) as candidates. Due dates leave a random slack after the shortest possible
completion; a share of requests are key projects (green channel) with a higher weight. Resources come
from the platform file: opening hours per weekday in the platform's time zone, ``unattended`` instruments
only need to be *started* in open hours, and a few maintenance windows are drawn at random.

Output matches docs/architecture.md "Scheduling problem file" exactly (plain dicts, RFC 3339 times with the
platform's offset); ``scheduler.problem.parse_problem`` accepts it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulators.platform import load_platform

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: (capability a step needs, duration range in hours, minimum vessel volume in litres or 0)
Step = tuple[str, tuple[float, float], float]

#: process routes with their relative frequency
ROUTES: dict[str, tuple[float, tuple[Step, ...]]] = {
    "ferment-spraydry-analyse": (
        3.0,
        (("fermentation", (12.0, 48.0), 5.0), ("spray-drying", (2.0, 6.0), 0.0), ("hplc", (1.0, 4.0), 0.0)),
    ),
    "ferment-freezedry-analyse": (
        2.0,
        (
            ("fermentation", (12.0, 36.0), 5.0),
            ("lyophilization", (24.0, 48.0), 0.0),
            ("hplc", (1.0, 3.0), 0.0),
        ),
    ),
    "scale-up-ferment": (2.0, (("fermentation", (24.0, 72.0), 50.0), ("hplc", (1.0, 2.0), 0.0))),
    "calcine-analyse": (1.5, (("calcination", (4.0, 16.0), 0.0), ("hplc", (1.0, 3.0), 0.0))),
    "analysis-only": (3.0, (("hplc", (1.0, 8.0), 0.0),)),
    "pilot-line-run": (1.0, (("spray-drying", (4.0, 10.0), 0.0), ("purity", (1.0, 3.0), 0.0))),
    "clean-room-fill": (1.0, (("clean-room", (2.0, 8.0), 0.0),)),
}


@dataclass
class DemandConfig:
    requests: int = 40
    days: int = 14
    start: str = "2026-12-01T00:00:00+08:00"
    #: arrivals fall in this leading share of the horizon, leaving time to finish
    arrival_share: float = 0.6
    key_project_share: float = 0.1
    orgs: int = 12
    #: due = release + shortest completion x (1 + slack), slack drawn in this range
    slack: tuple[float, float] = (0.5, 3.0)
    maintenance_windows_per_resource: float = 0.3
    routes: dict[str, float] = field(default_factory=lambda: {k: w for k, (w, _) in ROUTES.items()})
    seed: int = 0
    platform: dict[str, Any] | None = None


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _open_windows(hours: dict[str, list[list[str]]], start: datetime, days: int) -> list[list[str]]:
    out = []
    for d in range(days):
        day = start + timedelta(days=d)
        for begin, end in hours.get(WEEKDAYS[day.weekday()], []):
            bh, bm = (int(x) for x in begin.split(":"))
            eh, em = (int(x) for x in end.split(":"))
            out.append([_iso(day.replace(hour=bh, minute=bm)), _iso(day.replace(hour=eh, minute=em))])
    return out


def _candidates(resources: list[dict[str, Any]], capability: str, min_volume: float) -> list[str]:
    out = []
    for r in resources:
        if capability not in r.get("capabilities", []) and capability != r.get("device_type"):
            continue
        if min_volume and float(r.get("attributes", {}).get("volume_l", 0)) < min_volume:
            continue
        out.append(r["code"])
    return out


def generate_problem(cfg: DemandConfig | None = None) -> dict[str, Any]:
    cfg = cfg or DemandConfig()
    rng = random.Random(f"demand:{cfg.seed}")
    platform = cfg.platform or load_platform()
    tz = ZoneInfo(platform["platform"].get("timezone", "Asia/Shanghai"))
    start = datetime.fromisoformat(cfg.start).astimezone(tz)
    start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=cfg.days)
    hours = platform["default_opening_hours"]
    resources_in = platform["resources"]

    resources = []
    for r in resources_in:
        unavailable = []
        if rng.random() < cfg.maintenance_windows_per_resource:
            day = start + timedelta(days=rng.randrange(cfg.days))
            m_start = day.replace(hour=8)
            unavailable.append([_iso(m_start), _iso(m_start + timedelta(hours=rng.choice((4, 8))))])
        resources.append(
            {
                "id": r["code"],
                "open": _open_windows(r.get("opening_hours", hours), start, cfg.days),
                "unavailable": unavailable,
                "setup_minutes": 60
                if r.get("device_type") == "fermenter"
                else 30
                if r.get("kind") != "venue"
                else 0,
                "capacity": 1,
                "unattended": bool(r.get("unattended", False)),
            }
        )

    names = [k for k in cfg.routes if k in ROUTES and cfg.routes[k] > 0]
    weights = [cfg.routes[k] for k in names]
    orgs = [f"sme-{i + 1}" for i in range(cfg.orgs)]
    org_weights = [1.0 / (i + 1) for i in range(cfg.orgs)]  # a few SMEs ask often (Zipf-like)
    rate_per_h = cfg.requests / max(1.0, cfg.days * 24.0 * cfg.arrival_share)
    t = 0.0
    requests = []
    for i in range(cfg.requests):
        t += rng.expovariate(rate_per_h)
        release = start + timedelta(hours=math.floor(t * 2) / 2)  # on the half hour
        route_name = rng.choices(names, weights)[0]
        steps = []
        total_h = 0.0
        for j, (capability, (lo, hi), min_volume) in enumerate(ROUTES[route_name][1]):
            cands = _candidates(resources_in, capability, min_volume)
            if not cands:
                continue
            hours_needed = rng.uniform(lo, hi)
            minutes = max(30, round(hours_needed * 2) * 30)
            total_h += minutes / 60.0
            steps.append({"id": f"s{j + 1}", "duration_minutes": minutes, "resources": cands})
        if not steps:
            continue
        key = rng.random() < cfg.key_project_share
        slack = rng.uniform(*cfg.slack)
        due = release + timedelta(hours=math.ceil(total_h * (1.0 + slack) + 24.0))
        requests.append(
            {
                "id": f"Q{i + 1}",
                "org": rng.choices(orgs, org_weights)[0],
                "weight": 5 if key else rng.choice((1, 1, 2, 3)),
                "key_project": key,
                "release": _iso(release),
                "due": _iso(min(due, end)),
                "steps": steps,
            }
        )
    return {
        "horizon": {"start": _iso(start), "end": _iso(end)},
        "resources": resources,
        "requests": requests,
        "fixed": [],
        "objective": "default",
    }
