from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from backend.http.deps import CurrentUser, EngineDep, SettingsDep
from backend.models.user import UserPublic
from backend.services.accounts.login import log_in

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
