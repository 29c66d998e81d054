from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from backend.http.deps import CurrentUser, EngineDep, SettingsDep
from backend.http.sessions import session_token, start_session
from backend.models.user import UserPublic
from backend.services.accounts.login import change_password, log_in

router = APIRouter(tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post(
    "/auth/token",
    response_model=Token,
    responses={401: {"description": "wrong e-mail or password"}, 429: {"description": "too many failures"}},
)
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """OAuth2 password flow: `username` is the e-mail address. After repeated failures for one account
    or from one address the answer is 429 with `Retry-After`."""
    address = request.client.host if request.client else "unknown"
    done = log_in(engine, settings, form.username, form.password, address)
    if done is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong e-mail or password", {"WWW-Authenticate": "Bearer"}
        )
    return Token(access_token=done.access_token, expires_in=settings.access_token_minutes * 60)


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=128, description="at least 8 characters, 5 different")


@router.post(
    "/me/password",
    response_model=Token,
    responses={429: {"description": "too many wrong current passwords for this account or address"}},
)
def change_my_password(
    request: Request,
    response: Response,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    body: PasswordChange,
) -> Token:
    """One's own new password, given the current one. Every token and session the account holds ends;
    the answer carries a fresh token to go on with (a browser's session cookie is renewed). 403 naming
    `current_password` when it is wrong (counted and throttled like a failed log-in), 422 naming
    `new_password` when it is weak or the current one again."""
    address = request.client.host if request.client else "unknown"
    done = change_password(engine, settings, user.id or 0, body.current_password, body.new_password, address)
    if request.headers.get("authorization") is None and session_token(request):
        start_session(request, response, done.access_token, settings.access_token_minutes * 60)
    return Token(access_token=done.access_token, expires_in=settings.access_token_minutes * 60)
