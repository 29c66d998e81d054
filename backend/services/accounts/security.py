"""Password hashing (argon2 via pwdlib) and stateless bearer tokens (JWT)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash
from sqlmodel import Session

from backend.domain.access import Principal, Role
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


def create_access_token(settings: Settings, who: Principal) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(who.user_id),
        "role": who.role.value,
        "org": who.organization_id,
        "platform": who.platform_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.access_token_minutes)).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)


def decode_access_token(settings: Settings, token: str) -> int:
    """The user id in a valid, unexpired token; InvalidToken otherwise.

    Tokens made for one purpose (a calendar feed URL) carry a `purpose` claim and are refused here:
    a feed URL that leaks must not open the API."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[settings.jwt_algorithm])
        if "purpose" in claims:
            raise InvalidToken(f"a {claims['purpose']} token is not an access token")
        return int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc


FEED_PURPOSE = "ical"


def create_feed_token(settings: Settings, user_id: int, days: int | None = None) -> str:
    """A long-lived token that only reads the user's calendar feed (clients cannot send headers)."""
    now = utcnow()
    lifetime = timedelta(days=settings.calendar_token_days if days is None else days)
    claims = {
        "sub": str(user_id),
        "purpose": FEED_PURPOSE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)


def decode_feed_token(settings: Settings, token: str) -> int:
    """The user id in a valid, unexpired feed token; InvalidToken for anything else (access tokens too)."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[settings.jwt_algorithm])
        if claims.get("purpose") != FEED_PURPOSE:
            raise InvalidToken("not a calendar feed token")
        return int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc


def principal_of(user: Any) -> Principal:
    return Principal(
        user_id=user.id,
        role=Role(user.role),
        organization_id=user.organization_id,
        platform_id=user.platform_id,
    )


def feed_reader(session: Session, settings: Settings, token: str) -> Principal | None:
    """Who reads a calendar feed: the active user its feed token names; None for a bad or expired token
    or a user who is gone or disabled."""
    try:
        user_id = decode_feed_token(settings, token)
    except InvalidToken:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    return principal_of(user)
