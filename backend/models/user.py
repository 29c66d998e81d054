from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from backend.domain.access import Role
from backend.models.common import Name
from backend.models.types import UTCDateTime, utcnow


class UserBase(SQLModel):
    email: EmailStr = Field(max_length=254, unique=True, index=True)
    full_name: Name = Field(max_length=200)
    role: Role = Field(sa_type=String(20))
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    platform_id: int | None = Field(default=None, foreign_key="platform.id", index=True)
    is_active: bool = True


class User(UserBase, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    hashed_password: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserCreate(UserBase):
    password: str = Field(min_length=8, max_length=128)


class UserUpdate(SQLModel):
    full_name: Name | None = None
    role: Role | None = None
    organization_id: int | None = None
    platform_id: int | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=128)


class UserPublic(UserBase):
    id: int
    created_at: datetime
