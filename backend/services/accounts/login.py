"""Logging in: password check, throttling per account and per client address, and the token it gives;
changing one's own password (which ends every other session).

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

from backend.db import unit_of_work, writer
from backend.domain.errors import AccessDenied, Invalid, Throttled
from backend.domain.login import password_weakness, wait_before_next
from backend.models.types import utcnow
from backend.models.user import LoginFailure, User
from backend.services import audit
from backend.services.accounts.security import create_access_token, end_tokens, hash_password, verify_password
from backend.services.common import get_or_404
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


def _keys(settings: Settings, email: str, address: str) -> dict[str, int]:
    return {
        f"account:{email}"[:300]: settings.login_account_failures,
        f"address:{address}"[:300]: settings.login_address_failures,
    }


def _attempt(engine: Engine, settings: Settings, email: str, address: str) -> list[int | None]:
    """Writes the attempt down for the account and the address (the ids, to forget it if the password
    is right), or raises Throttled when either has failed too often lately."""
    window = timedelta(seconds=settings.login_window_seconds)
    limits = _keys(settings, email, address)
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
    return mine


def _succeeded(engine: Engine, email: str, mine: list[int | None]) -> None:
    """The password was right: this attempt and the account's earlier failures are forgotten."""
    with unit_of_work(engine) as session:
        _forget(session, mine)
        session.exec(delete(LoginFailure).where(col(LoginFailure.key) == f"account:{email}"[:300]))


def log_in(engine: Engine, settings: Settings, email: str, password: str, address: str) -> LoggedIn | None:
    """A token for the active account with this e-mail and password; None for a wrong pair; Throttled
    when the account or the client address has failed too often lately (`Retry-After` seconds)."""
    email = email.strip().lower()
    mine = _attempt(engine, settings, email, address)
    with unit_of_work(engine) as session:
        user = session.exec(select(User).where(User.email == email)).first()
    valid = verify_password(password, user.hashed_password if user else _hash_to_waste_time_on())
    if user is None or not valid or not user.is_active:
        return None
    _succeeded(engine, email, mine)
    return LoggedIn(user, create_access_token(settings, user))


def change_password(
    engine: Engine, settings: Settings, user_id: int, current: str, new: str, address: str
) -> LoggedIn:
    """The user's own new password, given the current one: every token the user holds ends (other
    browsers and scripts are logged out) and a fresh one is returned for the caller to go on with.

    A wrong current password counts as a failed log-in of the account (and is throttled as one), so
    a stolen session cannot be used to guess the password; it is refused with AccessDenied naming
    `current_password`. A weak new password, or the current one again, is Invalid `new_password`."""
    with unit_of_work(engine) as session:
        email = get_or_404(session, User, user_id, "user").email
    mine = _attempt(engine, settings, email, address)
    with unit_of_work(writer(engine)) as session:
        user = session.exec(select(User).where(User.id == user_id).with_for_update()).one()
        if not verify_password(current, user.hashed_password):
            raise AccessDenied("current_password: the current password is wrong", field="current_password")
        weakness = password_weakness(new, current, user.email)
        if weakness is None:
            user.hashed_password = hash_password(new)
            end_tokens(user)
            session.add(user)
            session.flush()
            audit.append(session, "user.password_changed", ("user", user_id), actor=user_id, platform_id=None)
            token = create_access_token(settings, user)
            session.expunge(user)
    _succeeded(engine, email, mine)  # the current password was right: not a failed log-in
    if weakness is not None:
        raise Invalid("new_password", weakness)
    return LoggedIn(user, token)


def _forget(session: Session, ids: list[int | None]) -> None:
    session.exec(delete(LoginFailure).where(col(LoginFailure.id).in_(ids)))
