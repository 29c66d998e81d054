"""A realistic month for one platform: the optimizer beside first-come-first-served booking.

Builds (or reads) a problem with 60 resources and 2,000 requests of 1–3 steps, solves it with
``scheduler.solve.solve`` on 2 workers, places the same requests first-come-first-served (each request, in
order of submission, takes its earliest free slot), and prints JSON with placed weight, key-project lateness,
utilization and fairness for both, plus the model-build and solve times.

Demand comes from ``simulators.demand.generate_problem`` (the demo platform's 12 resources copied up to
``--resources``) when the simulators package is there, otherwise from the generator below; ``--source``
picks one explicitly. The built-in generator has more varied resources (changeovers, a staff pool,
capacity-3 venues, 1–3 candidates per step); the simulators' one lists every capable resource.

    python benchmarks/scheduler_workload.py --requests 2000 --resources 60 --time-limit 60 --workers 2
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler import greedy
from scheduler.kpis import compute_kpis
from scheduler.problem import Problem, parse_problem
from scheduler.solve import solve

TZ = timezone(timedelta(hours=8))
START = datetime(2026, 12, 1, tzinfo=TZ)

# kind, share of resources, capacity, unattended, changeover minutes
KINDS = [
    ("fermenter", 0.25, 1, True, 0),
    ("line", 0.2, 1, False, 120),
    ("analyser", 0.3, 1, False, 0),
    ("venue", 0.1, 3, False, 0),
    ("dryer", 0.15, 1, True, 60),
]


def iso(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def builtin_problem(n_requests: int, n_resources: int, days: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    horizon = days * 1440
    groups: dict[str, list[str]] = {}
    resources: list[dict[str, Any]] = []
    for kind, share, capacity, unattended, changeover in KINDS:
        count = max(1, round(share * n_resources))
        for i in range(count):
            if len(resources) >= n_resources:
                break
            rid = f"{kind[:3].upper()}-{i + 1}"
            groups.setdefault(kind, []).append(rid)
            open_days = [d for d in range(days) if (d + 1) % 7 not in (5, 6)]  # Dec 1 2026 is a Tuesday
            opened = [[iso(d * 1440 + 8 * 60), iso(d * 1440 + 20 * 60)] for d in open_days]
            maint_day = rng.randrange(days)
            resources.append(
                {
                    "id": rid,
                    "capacity": capacity,
                    "unattended": unattended,
                    "changeover_minutes": changeover,
                    "setup_minutes": 30 if kind == "line" else 0,
                    "open": opened,
                    "unavailable": [[iso(maint_day * 1440 + 8 * 60), iso(maint_day * 1440 + 14 * 60)]],
                }
            )
    lines = groups.get("line", [])
    pools = (
        [{"id": "line-operators", "capacity": max(1, len(lines) * 2 // 3), "members": lines}] if lines else []
    )
    orgs = [f"sme-{i:03d}" for i in range(150)]
    org_weights = [1 / (i + 1) ** 0.8 for i in range(len(orgs))]
    # Typical routes: a process step, then often drying, then analysis within a day.
    routes = [
        ["fermenter"],
        ["line"],
        ["venue"],
        ["fermenter", "dryer"],
        ["line", "analyser"],
        ["fermenter", "dryer", "analyser"],
        ["analyser"],
        ["line", "dryer", "analyser"],
    ]
    requests: list[dict[str, Any]] = []
    for n in range(n_requests):
        route = rng.choice(routes)
        release = rng.randrange(0, horizon - 3 * 1440)
        release -= release % 60
        due = release + rng.randint(3, 10) * 1440
        steps = []
        for k, kind in enumerate(route):
            pool = groups[kind]
            candidates = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
            step: dict[str, Any] = {
                "id": f"s{k + 1}",
                "duration_minutes": 30 * rng.randint(2, 10 if kind != "fermenter" else 16),
                "resources": candidates,
            }
            if k > 0 and kind == "analyser":
                step["max_gap_minutes"] = 1440
            steps.append(step)
        key = rng.random() < 0.05
        requests.append(
            {
                "id": f"Q{n:04d}",
                "org": rng.choices(orgs, org_weights)[0],
                "weight": rng.randint(1, 5),
                "key_project": key,
                "release": iso(release),
                "due": iso(min(due, horizon)),
                "deadline": iso(min(due + 7 * 1440, horizon)),
                "material_class": rng.choice(["bio", "chem", "food", "mat"]),
                "steps": steps,
            }
        )
    return {
        "horizon": {"start": iso(0), "end": iso(horizon)},
        "resources": resources,
        "requests": requests,
        "pools": pools,
        "objective": "default",
    }


def simulators_problem(n_requests: int, n_resources: int, days: int, seed: int) -> dict[str, Any]:
    """``simulators.demand.generate_problem`` on the demo platform, resources copied up to ``n_resources``."""
    from simulators.demand import DemandConfig, generate_problem
    from simulators.platform import load_platform

    platform = load_platform()
    base = platform["resources"]
    copies = []
    for k in range(n_resources):
        r = dict(base[k % len(base)])
        if k >= len(base):
            r["code"] = f"{r['code']}-c{k // len(base) + 1}"
        copies.append(r)
    platform = {**platform, "resources": copies}
    cfg = DemandConfig(requests=n_requests, days=days, seed=seed, orgs=150, platform=platform)
    return generate_problem(cfg)


def load_demand(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    if args.problem:
        return json.loads(Path(args.problem).read_text()), str(args.problem)
    if args.source != "builtin":
        try:
            data = simulators_problem(args.requests, args.resources, args.days, args.seed)
            return data, "simulators.demand.generate_problem (demo platform resources copied)"
        except ImportError:
            if args.source == "simulators":
                raise
    return builtin_problem(args.requests, args.resources, args.days, args.seed), "builtin generator"


def summary(problem: Problem, kpis: dict[str, Any]) -> dict[str, Any]:
    shares = kpis["org_shares"].values()
    jain = (sum(shares) ** 2) / (len(shares) * sum(s * s for s in shares)) if any(shares) else 0.0
    return {
        "placed": kpis["placed"],
        "placed_weight": kpis["placed_weight"],
        "requested_weight": kpis["requested_weight"],
        "key_projects_placed": f"{kpis['key_projects_placed']}/{kpis['key_projects']}",
        "key_project_lateness_minutes": kpis["key_project_lateness_minutes"],
        "lateness_minutes": kpis["lateness_minutes"],
        "mean_utilization": kpis["mean_utilization"],
        "min_org_share": kpis["min_org_share"],
        "jain_fairness_of_org_shares": round(jain, 4),
        "organizations": len(shares),
        "organizations_granted_nothing": sum(1 for s in shares if s == 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--resources", type=int, default=60)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--source", choices=["auto", "simulators", "builtin"], default="auto")
    parser.add_argument("--problem", type=Path, help="solve this problem file instead of generating one")
    parser.add_argument("--write", type=Path, help="also write the generated problem file here")
    parser.add_argument("--progress", action="store_true", help="solver progress on stderr")
    args = parser.parse_args()

    data, source = load_demand(args)
    if args.write:
        args.write.write_text(json.dumps(data))
    began = time.perf_counter()
    problem = parse_problem(data)
    parse_seconds = time.perf_counter() - began

    began = time.perf_counter()
    fcfs_order = sorted(problem.requests, key=lambda q: (q.release, q.id))
    fcfs_assignments, _ = greedy.list_schedule(problem, order=fcfs_order)
    fcfs_seconds = time.perf_counter() - began

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    began = time.perf_counter()
    plan = solve(problem, args.time_limit, args.workers, args.seed, progress=say if args.progress else None)
    total_seconds = time.perf_counter() - began

    steps = sum(len(q.steps) for q in problem.requests)
    print(
        json.dumps(
            {
                "source": source,
                "requests": len(problem.requests),
                "steps": steps,
                "resources": len(problem.resources),
                "time_limit_seconds": args.time_limit,
                "workers": args.workers,
                "seed": args.seed,
                "parse_seconds": round(parse_seconds, 3),
                "optimizer": {
                    "status": plan.status,
                    "model_build_seconds": plan.kpis["model_build_seconds"],
                    "wall_seconds_including_explanations": round(total_seconds, 2),
                    "stages": plan.kpis["stages"],
                    **summary(problem, dict(plan.kpis)),
                },
                "first_come_first_served": {
                    "seconds": round(fcfs_seconds, 2),
                    **summary(problem, compute_kpis(problem, fcfs_assignments)),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
