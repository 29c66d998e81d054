"""Small helpers every service uses: fetch-or-404, counted pages, and rows limited to the caller's scope."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import false, func
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from backend.domain.access import Principal, read_scope
from backend.domain.errors import Invalid, NotFound

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


def apply_changes(row: SQLModel, changes: dict[str, Any]) -> None:
    """A partial update (`PATCH`): the given fields set on `row`. An explicit null is refused for a
    column that cannot hold one, naming the field, rather than failing in the database."""
    columns = type(row).__table__.c  # type: ignore[attr-defined]
    for name, value in changes.items():
        if value is None and name in columns and not columns[name].nullable:
            raise Invalid(name, "may not be null; leave it out to keep it")
    row.sqlmodel_update(changes)


S = TypeVar("S", bound=Any)


def within_scope(statement: S, who: Principal, platform: Any = None, organization: Any = None) -> S:
    """`statement` narrowed to the rows `who` may read (`backend.domain.access.read_scope`), given the
    columns that name a row's platform and organization. A scope on a column the rows lack lets nothing
    through."""
    scope = read_scope(who)
    if scope.platform_id is not None:
        statement = statement.where(false() if platform is None else platform == scope.platform_id)
    if scope.organization_id is not None:
        statement = statement.where(
            false() if organization is None else organization == scope.organization_id
        )
    return statement
