"""Request dependencies shared by both HTTP delivery layers (JSON API and web pages): settings, one unit
of work per request, the writer for check-then-write use cases, and the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.adapters.influx import InfluxClient
from backend.db import reading, unit_of_work, writer
from backend.domain.access import Principal
from backend.http.sessions import CSRF_HEADER, SAFE_METHODS, csrf_ok, session_token
from backend.models.common import DB_INT_MAX
from backend.models.user import User
from backend.services.accounts.security import (
    InvalidToken,
    current_holder,
    principal_of,
    principal_of_token,
    user_of_token,
)
from backend.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """The request's unit of work: committed when the route returns, rolled back when it raises."""
    with unit_of_work(engine) as session:
        yield session


async def get_writer(
    engine: Annotated[Engine, Depends(get_engine)],
) -> Callable[[], AbstractContextManager[Session]]:
    """Opens a unit of work that checks and then writes (bookings): serialized on SQLite, see `writer`.

    The route enters it itself, so the transaction begins and commits on the route's own worker
    thread. Committed later by FastAPI (as `SessionDep` is) a booking would hold SQLite's write lock
    while it waits for a free worker thread, and under load the waiting writers hold them all.
    No I/O here, so it is async: FastAPI runs it on the event loop, not through the thread pool.
    """
    return lambda: unit_of_work(writer(engine))


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
Writer = Annotated[Callable[[], AbstractContextManager[Session]], Depends(get_writer)]

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def _user_from_token(engine: Engine, settings: Settings, token: str | None) -> User | None:
    """The active user a token names, read in a short session of its own, outside any transaction
    (one statement; on PostgreSQL no BEGIN and ROLLBACK round trips on every authenticated request).

    The route's unit of work is a separate session; keeping this one open as well would let
    every waiting request hold two pooled connections and starve the pool under load.
    """
    if token is None:
        return None
    try:
        with reading(engine) as connection, Session(bind=connection, expire_on_commit=False) as session:
            return user_of_token(session, settings, token)
    except InvalidToken as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), _UNAUTHORIZED) from None


def _principal_from_token(engine: Engine, settings: Settings, token: str | None) -> Principal | None:
    """Who a token names, as `_user_from_token` decides it, read as one row without a `User` object
    (every authenticated request asks it)."""
    if token is None:
        return None
    try:
        with reading(engine) as connection:
            return principal_of_token(connection, settings, token)
    except InvalidToken as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), _UNAUTHORIZED) from None


EngineDep = Annotated[Engine, Depends(get_engine)]


async def get_influx(request: Request) -> InfluxClient:
    """The app's one InfluxDB client (made in the lifespan; its connection pool serves every request)."""
    client: InfluxClient = request.app.state.influx
    return client


InfluxDep = Annotated[InfluxClient, Depends(get_influx)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def _request_token(request: Request, bearer: str | None) -> str | None:
    """The bearer token, else the session cookie of the web pages; a state-changing request that only
    the cookie authenticates must also carry the CSRF header (`backend.http.sessions`)."""
    if bearer is not None:
        return bearer
    token = session_token(request)
    unsafe = token is not None and request.method not in SAFE_METHODS
    if unsafe and not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong X-CSRF-Token for this session")
    return token


_Caller = TypeVar("_Caller", User, Principal)


def _logged_in(caller: _Caller | None) -> _Caller:
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "log in first (POST /api/v1/auth/token)", _UNAUTHORIZED
        )
    return caller


def get_current_user(request: Request, engine: EngineDep, settings: SettingsDep, token: TokenDep) -> User:
    return _logged_in(_user_from_token(engine, settings, _request_token(request, token)))


def get_principal(request: Request, engine: EngineDep, settings: SettingsDep, token: TokenDep) -> Principal:
    return _logged_in(_principal_from_token(engine, settings, _request_token(request, token)))


def get_optional_principal(
    request: Request, engine: EngineDep, settings: SettingsDep, token: TokenDep
) -> Principal | None:
    return _principal_from_token(engine, settings, _request_token(request, token))


def get_page_principal(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal | None:
    """Who views a page: the session cookie's user, or None (anonymous, or a session that has ended)."""
    token = session_token(request)
    if token is None:
        return None
    try:
        return _principal_from_token(engine, settings, token)
    except HTTPException:
        return None


def still_holding(engine: Engine, user: User) -> Principal | None:
    """The caller of a long-lived answer (an event stream), checked again: None once its token has ended
    (password changed, account deactivated), else the caller as it is now (its role may have changed)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            return principal_of(current_holder(session, user.id or 0, user.token_version))
        except InvalidToken:
            return None


CurrentUser = Annotated[User, Depends(get_current_user)]
Caller = Annotated[Principal, Depends(get_principal)]
PageCaller = Annotated[Principal | None, Depends(get_page_principal)]
MaybeCaller = Annotated[Principal | None, Depends(get_optional_principal)]


Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="rows to skip")]
SearchText = Annotated[
    str | None, Query(max_length=200, description="free text, case-insensitive; % and _ match themselves")
]
City = Annotated[str | None, Query(max_length=100, description="city, in Chinese or English")]
Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
