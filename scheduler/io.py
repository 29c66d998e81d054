"""JSON in and out: reading problem files and writing plans in the contract's form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler.problem import Assignment, FieldError, Plan, Problem, ProblemError, parse_problem

if TYPE_CHECKING:
    from scheduler.repair import RepairResult


def load_problem(path: str | Path) -> Problem:
    """Read and validate a problem file; a missing or non-JSON file is a ProblemError too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProblemError([FieldError("", f"{path}: no such file")]) from None
    except OSError as exc:
        raise ProblemError([FieldError("", f"{path}: cannot be read ({exc.strerror})")]) from None
    except UnicodeDecodeError:
        raise ProblemError([FieldError("", f"{path}: not UTF-8 text")]) from None
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


def load_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProblemError([FieldError("", f"{what} {path}: no such file")]) from None
    except UnicodeDecodeError:
        raise ProblemError([FieldError("", f"{what} {path}: not UTF-8 text")]) from None
    except json.JSONDecodeError as exc:
        raise ProblemError(
            [
                FieldError(
                    "", f"{what} {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
                )
            ]
        ) from None


def repair_to_dict(result: RepairResult, problem: Problem) -> dict[str, Any]:
    out = problem.codec.to_output

    def slot(a: Assignment | None) -> dict[str, Any] | None:
        return None if a is None else {"resource": a.resource, "start": out(a.start), "end": out(a.end)}

    data = plan_to_dict(result.plan, problem)
    data["moved"] = [
        {
            "request": m.request,
            "step": m.step,
            "from": slot(m.before),
            "to": slot(m.after),
            "reason": m.reason,
        }
        for m in result.moved
    ]
    return data
