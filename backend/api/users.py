from __future__ import annotations

from fastapi import APIRouter, status

from backend.domain.access import Role
from backend.http.deps import Caller, Limit, Offset, SearchText, SessionDep, Writer
from backend.models.common import Id, Page
from backend.models.user import UserCreate, UserPublic, UserUpdate
from backend.services.accounts import users as service

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=Page[UserPublic])
def list_users(
    session: SessionDep,
    who: Caller,
    role: Role | None = None,
    organization_id: Id | None = None,
    q: SearchText = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[UserPublic]:
    rows, count = service.list_users(session, who, role, organization_id, q, offset, limit)
    return Page(data=[UserPublic.model_validate(r) for r in rows], count=count)


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(session: SessionDep, who: Caller, data: UserCreate) -> UserPublic:
    return UserPublic.model_validate(service.create_user(session, who, data))


@router.get("/{user_id}", response_model=UserPublic)
def get_user(session: SessionDep, who: Caller, user_id: Id) -> UserPublic:
    return UserPublic.model_validate(service.get_user(session, who, user_id))


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(write: Writer, who: Caller, user_id: Id, data: UserUpdate) -> UserPublic:
    """Admins only. A new password or a deactivation ends the user's tokens; the last active admin stays."""
    with write() as session:
        return UserPublic.model_validate(service.update_user(session, who, user_id, data))
