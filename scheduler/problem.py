"""The scheduling problem and plan: the contract's JSON, validated, and its normalized form.

Two layers live here. The *file* layer (pydantic models named ``*In``) mirrors the JSON of the problem file
in docs/architecture.md and rejects malformed input with the path of the bad field. The *model* layer (frozen
dataclasses) is what the solver works on: every time is an integer number of minutes from the horizon start,
so the solver never sees a datetime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError

# ---------------------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProblemError(ValueError):
    """A problem file that cannot be scheduled as written; ``errors`` names each bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(shown + more)


def format_path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


_PLAIN_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "string_too_short": "must not be empty",
}


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in _PLAIN_MESSAGES:
        return _PLAIN_MESSAGES[kind]
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    if kind in ("too_short", "too_long"):
        return f"must have {'at least' if kind == 'too_short' else 'at most'} {err['msg'].split()[-3]} items"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def _from_validation_error(exc: ValidationError) -> ProblemError:
    return ProblemError([FieldError(format_path(e["loc"]), _message(e)) for e in exc.errors()])


# ---------------------------------------------------------------------------------------------------------
# File layer: the JSON of the contract


def _parse_time(value: object) -> int | datetime:
    if isinstance(value, bool):
        raise ValueError("must be an integer (minutes) or an ISO 8601 time with zone")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time, e.g. 2026-12-01T08:00:00+08:00") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; write e.g. 2026-12-01T08:00:00+08:00")
        return parsed
    raise ValueError("must be an integer (minutes) or an ISO 8601 time with zone")


def _parse_window(value: object) -> tuple[int | datetime, int | datetime]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("must be a [start, end] pair")
    return _parse_time(value[0]), _parse_time(value[1])


TimeIn = Annotated[int | datetime, PlainValidator(_parse_time)]
WindowIn = Annotated[tuple[int | datetime, int | datetime], PlainValidator(_parse_window)]
Id = Annotated[str, Field(min_length=1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HorizonIn(_In):
    start: TimeIn
    end: TimeIn


class ResourceIn(_In):
    id: Id
    open: list[WindowIn] | None = None
    unavailable: list[WindowIn] = []
    setup_minutes: int = Field(default=0, ge=0)
    capacity: int = Field(default=1, gt=0)
    unattended: bool = False
    unattended_ends_open: bool = False
    changeover_minutes: int = Field(default=0, ge=0)


class StepIn(_In):
    id: Id
    duration_minutes: int = Field(gt=0)
    resources: list[Id] = Field(min_length=1)
    min_gap_minutes: int | None = Field(default=None, ge=0)
    max_gap_minutes: int | None = Field(default=None, ge=0)
    pool_demand: dict[str, int] = {}


class RequestIn(_In):
    id: Id
    org: str = ""
    weight: int = Field(default=1, gt=0)
    key_project: bool = False
    release: TimeIn | None = None
    due: TimeIn | None = None
    deadline: TimeIn | None = None
    material_class: str | None = None
    steps: list[StepIn] = Field(min_length=1)


class FixedIn(_In):
    request: Id
    step: Id
    resource: Id
    start: TimeIn
    end: TimeIn | None = None
    org: str | None = None
    material_class: str | None = None


class PoolIn(_In):
    id: Id
    capacity: int = Field(gt=0)
    members: list[Id] = Field(min_length=1)
    demand: int = Field(default=1, gt=0)


class BudgetIn(_In):
    id: Id
    org: str
    start: TimeIn
    end: TimeIn
    minutes: int = Field(ge=0)


class ProblemIn(_In):
    horizon: HorizonIn | None = None
    resources: list[ResourceIn]
    requests: list[RequestIn]
    fixed: list[FixedIn] = []
    pools: list[PoolIn] = []
    budgets: list[BudgetIn] = []
    objective: Literal["default", "makespan"] = "default"


# ---------------------------------------------------------------------------------------------------------
# Model layer: integer minutes from the horizon start

Window = tuple[int, int]


@dataclass(frozen=True)
class Resource:
    id: str
    capacity: int = 1
    open: tuple[Window, ...] | None = None  # None: always open
    unavailable: tuple[Window, ...] = ()
    setup_minutes: int = 0
    changeover_minutes: int = 0
    unattended: bool = False
    # Unattended runs must also *end* in an open period (someone unloads them), not only start in one.
    unattended_ends_open: bool = False


@dataclass(frozen=True)
class Step:
    id: str
    duration: int
    resources: tuple[str, ...]
    min_gap: int | None = None
    max_gap: int | None = None
    pool_demand: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Request:
    id: str
    steps: tuple[Step, ...]
    org: str = ""
    weight: int = 1
    key_project: bool = False
    release: int = 0
    due: int | None = None
    deadline: int | None = None
    material_class: str | None = None

    @property
    def total_minutes(self) -> int:
        return sum(s.duration for s in self.steps)


@dataclass(frozen=True)
class Fixed:
    """A confirmed booking: pins a step of a listed request, or blocks a resource for an outside request."""

    request: str
    step: str
    resource: str
    start: int
    end: int
    org: str | None = None
    material_class: str | None = None
    # Pool units an outside booking uses where it differs from the pool's default (set by window re-solves).
    pool_demand: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Pool:
    id: str
    capacity: int
    members: tuple[str, ...]
    demand: int = 1


@dataclass(frozen=True)
class Budget:
    """At most ``minutes`` of work for requests of ``org`` whose first step starts in [start, end) (a
    monthly quota, say). Work is the request's total step minutes; setup does not count."""

    id: str
    org: str
    start: int
    end: int
    minutes: int

    def counts(self, q: Request, first_start: int) -> bool:
        return q.org == self.org and self.start <= first_start < self.end


@dataclass(frozen=True)
class TimeCodec:
    """Turns minutes back into the form the problem file used (ISO in the horizon's zone, or integers)."""

    origin: datetime | None = None

    def to_minutes(self, value: int | datetime) -> int:
        if isinstance(value, int):
            return value
        assert self.origin is not None
        return int((value - self.origin).total_seconds() // 60)

    def to_output(self, minutes: int) -> int | str:
        if self.origin is None:
            return minutes
        tz: tzinfo | None = self.origin.tzinfo
        return (self.origin + timedelta(minutes=minutes)).astimezone(tz).isoformat()

    def describe(self, minutes: int) -> str:
        """A time as a person reads it in a message: local date and clock, or the minute number."""
        if self.origin is None:
            return f"t={minutes}"
        return (self.origin + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Problem:
    resources: tuple[Resource, ...]
    requests: tuple[Request, ...]
    horizon_end: int
    fixed: tuple[Fixed, ...] = ()
    pools: tuple[Pool, ...] = ()
    objective: Literal["default", "makespan"] = "default"
    horizon_start: int = 0
    budgets: tuple[Budget, ...] = ()
    codec: TimeCodec = field(default_factory=TimeCodec)

    def resource(self, rid: str) -> Resource:
        return self._resource_index[rid]

    def request(self, qid: str) -> Request:
        return self._request_index[qid]

    def outside_fixed_all(self) -> list[Fixed]:
        return [f for f in self.fixed if f.request not in self._request_index]

    def outside_fixed(self, rid: str) -> list[Fixed]:
        """Fixed bookings on ``rid`` of requests that are not in this problem."""
        cached = self.__dict__.get("_of")
        if cached is None:
            cached = {}
            for f in self.fixed:
                if f.request not in self._request_index:
                    cached.setdefault(f.resource, []).append(f)
            object.__setattr__(self, "_of", cached)
        return cached.get(rid, [])  # type: ignore[no-any-return]

    @property
    def _resource_index(self) -> dict[str, Resource]:
        cached = self.__dict__.get("_ri")
        if cached is None:
            cached = {r.id: r for r in self.resources}
            object.__setattr__(self, "_ri", cached)
        return cached

    @property
    def _request_index(self) -> dict[str, Request]:
        cached = self.__dict__.get("_qi")
        if cached is None:
            cached = {q.id: q for q in self.requests}
            object.__setattr__(self, "_qi", cached)
        return cached


# ---------------------------------------------------------------------------------------------------------
# Plan


@dataclass(frozen=True)
class Assignment:
    request: str
    step: str
    resource: str
    start: int
    end: int


@dataclass(frozen=True)
class Unplaced:
    request: str
    reason: str


@dataclass(frozen=True)
class Plan:
    status: str
    objective: float | None
    bound: float | None
    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]
    kpis: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Parsing: file layer -> model layer, with cross-field checks


def parse_problem(data: object) -> Problem:
    """Validate a decoded problem file and return the normalized problem; raises ProblemError."""
    try:
        raw = ProblemIn.model_validate(data)
    except ValidationError as exc:
        raise _from_validation_error(exc) from None
    return _Normalizer(raw).run()


class _Normalizer:
    def __init__(self, raw: ProblemIn) -> None:
        self.raw = raw
        self.errors: list[FieldError] = []
        self.iso: bool | None = None
        self.codec = TimeCodec()
        self.h_start = 0

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def time(self, value: int | datetime, path: str) -> int:
        is_iso = isinstance(value, datetime)
        if self.iso is None:
            self.iso = is_iso
        elif self.iso != is_iso:
            kind = "ISO 8601 times" if self.iso else "integer minutes"
            self.fail(path, f"must use the same form as the rest of the file ({kind})")
            return 0
        if is_iso and self.codec.origin is None:
            self.fail(path, "ISO 8601 times need a horizon (horizon.start, horizon.end)")
            return 0
        return self.codec.to_minutes(value)

    def window(self, win: tuple[int | datetime, int | datetime], path: str) -> Window:
        start, end = self.time(win[0], f"{path}[0]"), self.time(win[1], f"{path}[1]")
        if end <= start:
            self.fail(path, "end must be after start")
        return start, end

    def run(self) -> Problem:
        raw = self.raw
        if raw.horizon is not None:
            start = raw.horizon.start
            if isinstance(start, datetime):
                self.codec = TimeCodec(origin=start)
            h_start = self.h_start = self.time(raw.horizon.start, "horizon.start")
            h_end = self.time(raw.horizon.end, "horizon.end")
            if h_end <= h_start:
                self.fail("horizon.end", "must be after horizon.start")
        resources = self.resources()
        requests = self.requests({r.id for r in resources})
        fixed = self.fixed({r.id for r in resources}, {q.id: q for q in requests})
        pools = self.pools({r.id for r in resources})
        budgets = self.budgets()
        if raw.horizon is None:
            h_start, h_end = 0, self.implicit_horizon_end(resources, requests, fixed)
        if self.errors:
            raise ProblemError(self.errors)
        return Problem(
            resources=tuple(resources),
            requests=tuple(requests),
            horizon_start=h_start,
            horizon_end=h_end,
            fixed=tuple(fixed),
            pools=tuple(pools),
            objective=raw.objective,
            codec=self.codec,
            budgets=tuple(budgets),
        )

    def resources(self) -> list[Resource]:
        out: list[Resource] = []
        seen: set[str] = set()
        for i, r in enumerate(self.raw.resources):
            path = f"resources[{i}]"
            if r.id in seen:
                self.fail(f"{path}.id", f"duplicate resource id {r.id!r}")
            seen.add(r.id)
            opened = None
            if r.open is not None:
                opened = tuple(sorted(self.window(w, f"{path}.open[{j}]") for j, w in enumerate(r.open)))
            out.append(
                Resource(
                    id=r.id,
                    capacity=r.capacity,
                    open=opened,
                    unavailable=tuple(
                        self.window(w, f"{path}.unavailable[{j}]") for j, w in enumerate(r.unavailable)
                    ),
                    setup_minutes=r.setup_minutes,
                    changeover_minutes=r.changeover_minutes,
                    unattended=r.unattended,
                    unattended_ends_open=r.unattended_ends_open,
                )
            )
        return out

    def requests(self, resource_ids: set[str]) -> list[Request]:
        out: list[Request] = []
        seen: set[str] = set()
        pool_ids = {p.id for p in self.raw.pools}
        for i, q in enumerate(self.raw.requests):
            path = f"requests[{i}]"
            if q.id in seen:
                self.fail(f"{path}.id", f"duplicate request id {q.id!r}")
            seen.add(q.id)
            release = self.time(q.release, f"{path}.release") if q.release is not None else None
            due = self.time(q.due, f"{path}.due") if q.due is not None else None
            deadline = self.time(q.deadline, f"{path}.deadline") if q.deadline is not None else None
            if release is not None and due is not None and due < release:
                self.fail(f"{path}.due", "must not be before release")
            if release is not None and deadline is not None and deadline <= release:
                self.fail(f"{path}.deadline", "must be after release")
            steps = tuple(
                self.step(s, f"{path}.steps[{j}]", j, resource_ids, pool_ids) for j, s in enumerate(q.steps)
            )
            if len({s.id for s in steps}) != len(steps):
                self.fail(f"{path}.steps", "step ids must be unique within a request")
            out.append(
                Request(
                    id=q.id,
                    steps=steps,
                    org=q.org,
                    weight=q.weight,
                    key_project=q.key_project,
                    release=release if release is not None else self.h_start,
                    due=due,
                    deadline=deadline,
                    material_class=q.material_class,
                )
            )
        return out

    def step(self, s: StepIn, path: str, index: int, resource_ids: set[str], pool_ids: set[str]) -> Step:
        for k, rid in enumerate(s.resources):
            if rid not in resource_ids:
                self.fail(f"{path}.resources[{k}]", f"unknown resource {rid!r}")
        if index == 0 and (s.min_gap_minutes is not None or s.max_gap_minutes is not None):
            self.fail(path, "min_gap_minutes/max_gap_minutes apply before a step and so not to the first one")
        if (
            s.min_gap_minutes is not None
            and s.max_gap_minutes is not None
            and s.max_gap_minutes < s.min_gap_minutes
        ):
            self.fail(f"{path}.max_gap_minutes", "must be >= min_gap_minutes")
        for pid, demand in s.pool_demand.items():
            if pid not in pool_ids:
                self.fail(f"{path}.pool_demand.{pid}", f"unknown pool {pid!r}")
            if demand < 0:
                self.fail(f"{path}.pool_demand.{pid}", "must be >= 0")
        return Step(
            id=s.id,
            duration=s.duration_minutes,
            resources=tuple(dict.fromkeys(s.resources)),
            min_gap=s.min_gap_minutes,
            max_gap=s.max_gap_minutes,
            pool_demand=tuple(sorted(s.pool_demand.items())),
        )

    def fixed(self, resource_ids: set[str], requests: dict[str, Request]) -> list[Fixed]:
        out: list[Fixed] = []
        pinned: set[tuple[str, str]] = set()
        for i, f in enumerate(self.raw.fixed):
            path = f"fixed[{i}]"
            if f.resource not in resource_ids:
                self.fail(f"{path}.resource", f"unknown resource {f.resource!r}")
            start = self.time(f.start, f"{path}.start")
            request = requests.get(f.request)
            if request is not None:
                step = next((s for s in request.steps if s.id == f.step), None)
                if step is None:
                    self.fail(f"{path}.step", f"request {f.request!r} has no step {f.step!r}")
                    continue
                if f.resource not in step.resources:
                    self.fail(f"{path}.resource", f"is not a candidate resource of {f.request}/{f.step}")
                if (f.request, f.step) in pinned:
                    self.fail(path, f"{f.request}/{f.step} is fixed twice")
                pinned.add((f.request, f.step))
                setup = next((r.setup_minutes for r in self.raw.resources if r.id == f.resource), 0)
                end = start + setup + step.duration
                org, material = request.org, request.material_class
            else:
                if f.end is None:
                    self.fail(f"{path}.end", f"is required when request {f.request!r} is not in requests")
                    continue
                end = self.time(f.end, f"{path}.end")
                if end <= start:
                    self.fail(f"{path}.end", "must be after start")
                org, material = f.org or "", f.material_class
            out.append(Fixed(f.request, f.step, f.resource, start, end, org, material))
        return out

    def pools(self, resource_ids: set[str]) -> list[Pool]:
        out: list[Pool] = []
        seen: set[str] = set()
        for i, p in enumerate(self.raw.pools):
            path = f"pools[{i}]"
            if p.id in seen:
                self.fail(f"{path}.id", f"duplicate pool id {p.id!r}")
            seen.add(p.id)
            for k, rid in enumerate(p.members):
                if rid not in resource_ids:
                    self.fail(f"{path}.members[{k}]", f"unknown resource {rid!r}")
            out.append(Pool(p.id, p.capacity, tuple(dict.fromkeys(p.members)), p.demand))
        return out

    def budgets(self) -> list[Budget]:
        out: list[Budget] = []
        seen: set[str] = set()
        for i, b in enumerate(self.raw.budgets):
            path = f"budgets[{i}]"
            if b.id in seen:
                self.fail(f"{path}.id", f"duplicate budget id {b.id!r}")
            seen.add(b.id)
            start, end = self.window((b.start, b.end), path)
            out.append(Budget(b.id, b.org, start, end, b.minutes))
        return out

    @staticmethod
    def implicit_horizon_end(resources: list[Resource], requests: list[Request], fixed: list[Fixed]) -> int:
        """Without a horizon, the latest time any plan could need: all work one after the other."""
        latest = 0
        for r in resources:
            for s, e in (r.open or ()) + r.unavailable:
                latest = max(latest, s, e)
        for q in requests:
            latest = max(latest, q.release, q.due or 0, q.deadline or 0)
        for f in fixed:
            latest = max(latest, f.end)
        max_setup = max((r.setup_minutes + r.changeover_minutes for r in resources), default=0)
        work = sum(s.duration + max_setup for q in requests for s in q.steps)
        return latest + work


# ---------------------------------------------------------------------------------------------------------
# Pieces parsed against an existing problem (repair events, current plans)


def _prefixed(exc: ValidationError, prefix: str) -> ProblemError:
    return ProblemError([FieldError(format_path([prefix, *e["loc"]]), _message(e)) for e in exc.errors()])


def parse_time(value: object, problem: Problem, path: str) -> int:
    """One time value, in the same form (ISO or minutes) as the problem it belongs to."""
    try:
        parsed = _parse_time(value)
    except ValueError as exc:
        raise ProblemError([FieldError(path, str(exc))]) from None
    if isinstance(parsed, datetime) != (problem.codec.origin is not None):
        form = "an ISO 8601 time" if problem.codec.origin is not None else "integer minutes"
        raise ProblemError([FieldError(path, f"must be {form}, like the problem")])
    return problem.codec.to_minutes(parsed)


def parse_request(data: object, problem: Problem, path: str) -> Request:
    """A request (e.g. an urgent one) validated against the resources and pools of ``problem``."""
    try:
        raw = RequestIn.model_validate(data)
    except ValidationError as exc:
        raise _prefixed(exc, path) from None
    if raw.id in problem._request_index:
        raise ProblemError([FieldError(f"{path}.id", f"request {raw.id!r} is already in the problem")])
    pools = [PoolIn(id=p.id, capacity=p.capacity, members=list(p.members)) for p in problem.pools]
    norm = _Normalizer(ProblemIn(resources=[], requests=[raw], pools=pools))
    norm.codec, norm.h_start = problem.codec, problem.horizon_start
    norm.iso = problem.codec.origin is not None
    [request] = norm.requests({r.id for r in problem.resources})
    if norm.errors:
        raise ProblemError(
            [FieldError(e.path.replace("requests[0]", path, 1), e.message) for e in norm.errors]
        )
    return request


def parse_assignments(data: object, problem: Problem, path: str = "assignments") -> list[Assignment]:
    """The ``assignments`` of a plan this library printed earlier, checked against ``problem``."""
    if not isinstance(data, list):
        raise ProblemError([FieldError(path, "must be a list")])
    out: list[Assignment] = []
    errors: list[FieldError] = []
    for i, item in enumerate(data):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(where, "must be an object"))
            continue
        missing = [k for k in ("request", "step", "resource", "start", "end") if k not in item]
        if missing:
            errors.extend(FieldError(f"{where}.{k}", "is required") for k in missing)
            continue
        try:
            start = parse_time(item["start"], problem, f"{where}.start")
            end = parse_time(item["end"], problem, f"{where}.end")
        except ProblemError as exc:
            errors.extend(exc.errors)
            continue
        if item["resource"] not in problem._resource_index:
            errors.append(FieldError(f"{where}.resource", f"unknown resource {item['resource']!r}"))
        out.append(Assignment(str(item["request"]), str(item["step"]), str(item["resource"]), start, end))
    if errors:
        raise ProblemError(errors)
    return out
