"""Small helpers every service uses: fetch-or-404 and counted pages."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from backend.domain.errors import NotFound

M = TypeVar("M", bound=SQLModel)

MAX_PAGE = 500


def get_or_404(session: Session, model: type[M], ident: int, what: str | None = None) -> M:
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{what or model.__name__.lower()} {ident} does not exist")
    return row


def page(session: Session, statement: SelectOfScalar[M], offset: int, limit: int) -> tuple[list[M], int]:
    """One page of `statement` plus the total number of rows it selects."""
    count_statement: Any = select(func.count()).select_from(statement.order_by(None).subquery())
    total = session.exec(count_statement).one()
    rows = session.exec(statement.offset(offset).limit(min(limit, MAX_PAGE))).all()
    return list(rows), int(total)
