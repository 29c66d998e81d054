"""Password hashing (argon2 via pwdlib) and stateless bearer tokens (JWT)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash

from backend.domain.access import Principal, Role
from backend.models.types import utcnow
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
    """The user id in a valid, unexpired token; InvalidToken otherwise."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[settings.jwt_algorithm])
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
