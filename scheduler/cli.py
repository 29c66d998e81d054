"""``pilotshare schedule ...``: solve a problem file and print the plan as JSON.

Kept light at import time: OR-Tools is imported inside the command, so ``pilotshare --help`` stays fast.
"""

from __future__ import annotations

import json
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
    say = progress or (lambda _: None)
    say(
        f"solving {len(problem.requests)} requests on {len(problem.resources)} resources "
        f"(objective {problem.objective}, {time_limit:g}s, {workers} workers, seed {seed})"
    )
    plan = solve(problem, time_limit=time_limit, workers=workers, seed=seed, progress=progress)
    print(plan_to_json(plan, problem))
    say(f"status {plan.status}: {len(plan.assignments)} bookings, {len(plan.unplaced)} unplaced")


@schedule_app.command("repair")
def repair_command(
    problem_file: Annotated[
        Path, typer.Argument(metavar="PROBLEM.json", help="the problem the plan was made for")
    ],
    plan_file: Annotated[Path, typer.Option("--plan", help="current plan (the output of solve)")],
    event_file: Annotated[
        Path,
        typer.Option(
            "--event", help='{"kind": "fault", "resource", "start", "end"} or {"kind": "urgent", "request"}'
        ),
    ],
    now: Annotated[
        str | None, typer.Option("--now", help='current time; default: the event\'s "now"')
    ] = None,
    max_moves: Annotated[int | None, typer.Option("--max-moves", min=0, help="cap on moved bookings")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1)] = 10.0,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Re-plan after a fault or an urgent request; prints the new plan plus the moved bookings and why."""
    from scheduler.io import load_json, load_problem, repair_to_dict
    from scheduler.problem import ProblemError, parse_assignments, parse_time
    from scheduler.repair import parse_event, repair

    try:
        problem = load_problem(problem_file)
        plan = load_json(plan_file, "plan")
        current = parse_assignments(plan.get("assignments") if isinstance(plan, dict) else plan, problem)
        event_data = load_json(event_file, "event")
        event = parse_event(event_data, problem)
        raw_now: object = (
            now if now is not None else (event_data.get("now") if isinstance(event_data, dict) else None)
        )
        if isinstance(raw_now, str) and raw_now.lstrip("-").isdigit():
            raw_now = int(raw_now)
        when = parse_time(raw_now, problem, "--now" if now is not None else "event.now")
    except ProblemError as exc:
        print("error: cannot repair:", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    result = repair(problem, current, event, when, time_limit, workers, seed, max_moves, _progress)
    print(json.dumps(repair_to_dict(result, problem), ensure_ascii=False, indent=2))
    _progress(f"status {result.plan.status}: {len(result.moved)} bookings moved")


@schedule_app.callback()
def _callback() -> None:
    """Keeps ``solve`` a subcommand even while it is the only one."""


if __name__ == "__main__":
    schedule_app()
