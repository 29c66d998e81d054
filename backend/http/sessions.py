"""Browser sessions: the access token in an HttpOnly, SameSite cookie, and protection against
cross-site requests for everything a cookie authenticates.

A page sets `ps_csrf`, a random token, once; every form carries it back in `csrf_token` and every
script in the `X-CSRF-Token` header, and a state-changing request authenticated by the session cookie
is refused unless the two match (double submit). Another site can make the browser send the cookies,
but cannot read them to fill the field. Bearer-token clients are not affected.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

SESSION_COOKIE = "ps_session"
CSRF_COOKIE = "ps_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, token: str, max_age_seconds: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_token(request: Request) -> str:
    """The request's CSRF token: the cookie's, or a new one that `remember_csrf` will set."""
    known = request.cookies.get(CSRF_COOKIE)
    if known and len(known) >= 32:
        return known
    fresh: str | None = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(32)
        request.state.new_csrf = fresh
    return fresh


def remember_csrf(request: Request, response: Response) -> None:
    fresh = getattr(request.state, "new_csrf", None)
    if fresh is not None:
        response.set_cookie(
            CSRF_COOKIE, fresh, httponly=True, samesite="lax", secure=_secure(request), path="/"
        )


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """Whether `submitted` (form field or header) matches the request's CSRF cookie."""
    expected = request.cookies.get(CSRF_COOKIE)
    return bool(expected and submitted) and hmac.compare_digest(str(expected), str(submitted))
