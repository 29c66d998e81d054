"""JSON in and out: reading problem files and writing plans in the contract's form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scheduler.problem import FieldError, Plan, Problem, ProblemError, parse_problem


def load_problem(path: str | Path) -> Problem:
    """Read and validate a problem file; a missing or non-JSON file is a ProblemError too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProblemError([FieldError("", f"{path}: no such file")]) from None
    except OSError as exc:
        raise ProblemError([FieldError("", f"{path}: cannot be read ({exc.strerror})")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProblemError(
            [FieldError("", f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")]
        ) from None
    return parse_problem(data)


def plan_to_dict(plan: Plan, problem: Problem) -> dict[str, Any]:
    out = problem.codec.to_output
    return {
        "status": plan.status,
        "objective": plan.objective,
        "bound": plan.bound,
        "assignments": [
            {
                "request": a.request,
                "step": a.step,
                "resource": a.resource,
                "start": out(a.start),
                "end": out(a.end),
            }
            for a in plan.assignments
        ],
        "unplaced": [{"request": u.request, "reason": u.reason} for u in plan.unplaced],
        "kpis": dict(plan.kpis),
    }


def plan_to_json(plan: Plan, problem: Problem) -> str:
    return json.dumps(plan_to_dict(plan, problem), ensure_ascii=False, indent=2)
