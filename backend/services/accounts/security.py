"""Password hashing (argon2 via pwdlib) and stateless bearer tokens (JWT)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import jwt
from pwdlib import PasswordHash
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from backend.domain.access import Principal, Role
from backend.models.common import DB_INT_MAX
from backend.models.types import utcnow
from backend.models.user import User
from backend.settings import Settings

_hasher = PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return _hasher.verify(password, hashed)


class InvalidToken(Exception):
    pass


def create_access_token(settings: Settings, user: User) -> str:
    """A bearer token for `user`; it ends when it expires or when the user's token version moves on
    (password changed, account deactivated: `end_tokens`)."""
    now = utcnow()
    who = principal_of(user)
    claims: dict[str, Any] = {
        "sub": str(who.user_id),
        "ver": user.token_version,
        "role": who.role.value,
        "org": who.organization_id,
        "platform": who.platform_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.access_token_minutes)).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)


def _claims(settings: Settings, token: str, purpose: str | None) -> tuple[int, int]:
    """The user id and token version of a valid, unexpired token made for `purpose` (None: access).

    Tokens made for one purpose (a calendar feed URL) carry a `purpose` claim and are refused as access
    tokens: a feed URL that leaks must not open the API."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[settings.jwt_algorithm])
        if claims.get("purpose") != purpose:
            raise InvalidToken(
                f"a {claims.get('purpose') or 'access'} token is not a {purpose or 'access'} token"
            )
        user_id, version = int(claims["sub"]), int(claims.get("ver", 0))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken("invalid or expired token") from exc
    if not 1 <= user_id <= DB_INT_MAX or not 0 <= version <= DB_INT_MAX:
        raise InvalidToken("no such user")
    return user_id, version


def decode_access_token(settings: Settings, token: str) -> tuple[int, int]:
    """The user id and token version in a valid, unexpired access token; InvalidToken otherwise."""
    return _claims(settings, token, None)


def current_holder(session: Session, user_id: int, version: int) -> User:
    """The user a token names, while the token still stands: the user exists, is active, and has not
    ended its tokens since (`end_tokens`). Every way of presenting a token (bearer header, session
    cookie, event stream, calendar feed) ends up here or in `principal_of_token`, so they all end alike."""
    user = session.get(User, user_id)
    _check_standing(user, version)
    assert user is not None
    return user


def user_of_token(session: Session, settings: Settings, token: str) -> User:
    """The user an access token stands for; InvalidToken when it does not (any more)."""
    return current_holder(session, *decode_access_token(settings, token))


def principal_of_token(connection: Connection, settings: Settings, token: str) -> Principal:
    """Who an access token stands for, as `user_of_token` decides it, but read as one row of the columns
    that decide it: every authenticated request asks this, and loading a `User` object cost more."""
    user_id, version = decode_access_token(settings, token)
    row = connection.execute(_standing_statement(), {"user_id": user_id}).first()
    _check_standing(row, version)
    return principal_of(row)


def _check_standing(user: Any, version: int) -> None:
    if user is None or not user.is_active:
        raise InvalidToken("account is disabled or gone")
    if user.token_version != version:
        raise InvalidToken("this session has ended (password changed or signed out everywhere)")


@cache
def _standing_statement() -> Any:
    return sa_select(
        col(User.id),
        col(User.role),
        col(User.organization_id),
        col(User.platform_id),
        col(User.is_active),
        col(User.token_version),
    ).where(col(User.id) == bindparam("user_id"))


def end_tokens(user: User) -> None:
    """Ends every token issued to `user` so far (access tokens, session cookies, feed URLs)."""
    user.token_version += 1


FEED_PURPOSE = "ical"


def create_feed_token(settings: Settings, user: User, days: int | None = None) -> str:
    """A long-lived token that only reads the user's calendar feed (clients cannot send headers)."""
    now = utcnow()
    lifetime = timedelta(days=settings.calendar_token_days if days is None else days)
    claims = {
        "sub": str(user.id),
        "ver": user.token_version,
        "purpose": FEED_PURPOSE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)


def principal_of(user: Any) -> Principal:
    return Principal(
        user_id=user.id,
        role=Role(user.role),
        organization_id=user.organization_id,
        platform_id=user.platform_id,
    )


def feed_reader(session: Session, settings: Settings, token: str) -> Principal | None:
    """Who reads a calendar feed: the active user its feed token names; None for a bad or expired token,
    a user who is gone or disabled, or one who has ended their tokens since."""
    try:
        return principal_of(current_holder(session, *_claims(settings, token, FEED_PURPOSE)))
    except InvalidToken:
        return None
