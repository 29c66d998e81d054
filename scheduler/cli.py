"""``pilotshare schedule ...``: solve a problem file and print the plan as JSON.

Kept light at import time: OR-Tools is imported inside the command, so ``pilotshare --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

schedule_app = typer.Typer(help="Allocate contested pilot-line time with CP-SAT.", no_args_is_help=True)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@schedule_app.command("solve")
def solve_command(
    problem_file: Annotated[
        Path, typer.Argument(metavar="PROBLEM.json", help="problem file (see the contract)")
    ],
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="seconds for the solver")] = 10.0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="CP-SAT search workers")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="random seed, for repeatable runs")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress on stderr")] = False,
) -> None:
    """Solve PROBLEM.json; progress goes to stderr, the plan as JSON to stdout."""
    from scheduler.io import load_problem, plan_to_json
    from scheduler.problem import ProblemError
    from scheduler.solve import solve

    try:
        problem = load_problem(problem_file)
    except ProblemError as exc:
        print(f"error: malformed problem {problem_file}:", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    progress = None if quiet else _progress
    _progress(
        f"solving {len(problem.requests)} requests on {len(problem.resources)} resources "
        f"(objective {problem.objective}, {time_limit:g}s, {workers} workers, seed {seed})"
    )
    plan = solve(problem, time_limit=time_limit, workers=workers, seed=seed, progress=progress)
    print(plan_to_json(plan, problem))
    _progress(f"status {plan.status}: {len(plan.assignments)} bookings, {len(plan.unplaced)} unplaced")


@schedule_app.callback()
def _callback() -> None:
    """Keeps ``solve`` a subcommand even while it is the only one."""


if __name__ == "__main__":
    schedule_app()
