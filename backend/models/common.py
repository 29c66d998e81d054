"""Pieces shared by every table family, and the bounded types every input goes through.

Input is bounded at the edge so that nothing a caller sends can overflow a database column, a
`datetime` or a `timedelta` further in: ids fit PostgreSQL's `integer`, times carry a zone and a
sane year, numbers are finite and below limits that mean something for what they measure."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AllowInfNan, BeforeValidator, StringConstraints
from pydantic import Field as PydanticField
from sqlmodel import SQLModel

T = TypeVar("T")

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

DB_INT_MAX = 2**31 - 1
"""The largest PostgreSQL `integer`, the type of every id column (SQLite's integers are wider)."""

Id = Annotated[int, PydanticField(ge=1, le=DB_INT_MAX)]
"""A row id as a caller may send it: path, query or body."""

Finite = Annotated[float, AllowInfNan(False)]
"""A float that is neither infinite nor NaN (JSON's 1e309 parses as infinity)."""

MAX_MAGNITUDE = 10**12
"""Largest absolute value of a caller's free-form number (resource attributes, twin setpoints)."""
Scalar = (
    bool
    | Annotated[int, PydanticField(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
    | Annotated[float, AllowInfNan(False), PydanticField(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
    | Annotated[str, StringConstraints(max_length=200)]
)
"""A free-form value: a bool, a bounded finite number, or a short text."""
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]

FIRST_YEAR, LAST_YEAR = 2000, 2100
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _sane_year(value: date) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"give a year from {FIRST_YEAR} to {LAST_YEAR}")


def _time_text(value: Any) -> Any:
    """Only ISO 8601 text (or a datetime from Python): a bare number would be read as a Unix epoch."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_TIME.match(value)):
        return value
    raise ValueError("give an ISO 8601 time with a zone, e.g. 2026-12-01T08:00:00+08:00")


def _zoned(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-12-01T08:00:00+08:00")
    _sane_year(value)
    return value


def _day_text(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.match(value)):
        return value
    raise ValueError("give a day as YYYY-MM-DD, e.g. 2026-12-01")


def _sane_day(value: date) -> date:
    _sane_year(value)
    return value


Moment = Annotated[datetime, BeforeValidator(_time_text), AfterValidator(_zoned)]
"""A time a caller sends: ISO 8601 with a zone, in the years FIRST_YEAR to LAST_YEAR."""

Day = Annotated[date, BeforeValidator(_day_text), AfterValidator(_sane_day)]
"""A calendar day a caller sends, in the years FIRST_YEAR to LAST_YEAR."""


class Page(SQLModel, Generic[T]):
    """Every list endpoint answers `{"data": [...], "count": N}`; count is before paging."""

    data: list[T]
    count: int
