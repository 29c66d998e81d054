"""Logging in: password check, throttling per account and per client address, and the token it gives.

Throttling lives in the database (`LoginFailure`), so every API replica counts the same attempts and
nothing depends on one process's memory. An attempt is written down before the password is checked
and removed again if it succeeds: concurrent guesses see each other, and at most the limit of them
get through in any window. Unknown, inactive and known accounts cost the same argon2 verification, so
the answer's timing does not tell which e-mail addresses exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.db import unit_of_work
from backend.domain.errors import Throttled
from backend.domain.login import wait_before_next
from backend.models.types import utcnow
from backend.models.user import LoginFailure, User
from backend.services.accounts.security import create_access_token, hash_password, verify_password
from backend.settings import Settings

_dummy_hash: str | None = None


def _hash_to_waste_time_on() -> str:
    """A real argon2 hash with the same parameters, checked when there is no account to check."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("not the password of anyone")
    return _dummy_hash


@dataclass(frozen=True)
class LoggedIn:
    user: User
    access_token: str


def log_in(engine: Engine, settings: Settings, email: str, password: str, address: str) -> LoggedIn | None:
    """A token for the active account with this e-mail and password; None for a wrong pair; Throttled
    when the account or the client address has failed too often lately (`Retry-After` seconds)."""
    email = email.strip().lower()
    window = timedelta(seconds=settings.login_window_seconds)
    limits = {
        f"account:{email}"[:300]: settings.login_account_failures,
        f"address:{address}"[:300]: settings.login_address_failures,
    }
    now = utcnow()
    with unit_of_work(engine) as session:
        attempt = [LoginFailure(key=key, at=now) for key in limits]
        session.add_all(attempt)
        session.flush()
        mine = [row.id for row in attempt]
    with unit_of_work(engine) as session:
        session.exec(delete(LoginFailure).where(col(LoginFailure.at) <= now - window))
        earlier = session.exec(
            select(LoginFailure.key, LoginFailure.at).where(
                col(LoginFailure.key).in_(list(limits)), col(LoginFailure.id).not_in(mine)
            )
        ).all()
        wait = max(
            wait_before_next([at for k, at in earlier if k == key], limit, window, now)
            for key, limit in limits.items()
        )
        if wait > 0:
            _forget(session, mine)
            raise Throttled("too many failed log-ins; try again later", retry_after=int(wait) + 1)
        user = session.exec(select(User).where(User.email == email)).first()
    valid = verify_password(password, user.hashed_password if user else _hash_to_waste_time_on())
    if user is None or not valid or not user.is_active:
        return None
    with unit_of_work(engine) as session:
        _forget(session, mine)
        session.exec(delete(LoginFailure).where(col(LoginFailure.key) == f"account:{email}"[:300]))
    return LoggedIn(user, create_access_token(settings, user))


def _forget(session: Session, ids: list[int | None]) -> None:
    session.exec(delete(LoginFailure).where(col(LoginFailure.id).in_(ids)))
