from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from backend.domain.access import Role
from backend.models.common import DB_INT_MAX, Id, Name
from backend.models.types import UTCDateTime, utcnow


class UserBase(SQLModel):
    email: EmailStr = Field(max_length=254, unique=True, index=True)
    full_name: Name = Field(max_length=200)
    role: Role = Field(sa_type=String(20))
    organization_id: int | None = Field(
        default=None, foreign_key="organization.id", index=True, ge=1, le=DB_INT_MAX
    )
    platform_id: int | None = Field(default=None, foreign_key="platform.id", index=True, ge=1, le=DB_INT_MAX)
    is_active: bool = True


class User(UserBase, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    hashed_password: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    token_version: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="tokens carry it; bumping it ends them",
    )


class LoginFailure(SQLModel, table=True):
    """A failed (or not yet decided) log-in, per account and per client address: the shared memory of
    login throttling, in the database so that every API replica counts the same attempts."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, index=True, description="account:<e-mail> or address:<ip>")
    at: datetime = Field(sa_type=UTCDateTime, index=True)


class UserCreate(UserBase):
    password: str = Field(min_length=8, max_length=128)


class UserUpdate(SQLModel):
    full_name: Name | None = None
    role: Role | None = None
    organization_id: Id | None = None
    platform_id: Id | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=128)


class UserPublic(UserBase):
    id: int
    created_at: datetime
