"""Pieces shared by every table family."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import StringConstraints
from sqlmodel import SQLModel

T = TypeVar("T")

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Page(SQLModel, Generic[T]):
    """Every list endpoint answers `{"data": [...], "count": N}`; count is before paging."""

    data: list[T]
    count: int
