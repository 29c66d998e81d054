"""The audit log: an append-only hash chain of what changed, written in the transaction of the change.

`audit_event` rows are never updated or deleted (migration 0006 installs triggers that refuse it);
`audit_head` is one row holding the newest sequence number and hash. Appenders lock the head, so the
chain never forks, and verification compares the chain's end with it, so a cut-off tail is noticed.
Hashing and verification: backend/domain/audit.py; the encoding: docs/audit.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from backend.models.types import UTCDateTime


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_id"),)

    # The sequence number is the key: two events with one number (a fork) cannot both be stored.
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64, index=True)  # "user:{id}" or "system"
    action: str = Field(max_length=64, index=True)  # e.g. "booking.approve", "rate.create"
    subject_type: str = Field(max_length=32)
    subject_id: str = Field(max_length=64)
    # No foreign key: the log outlives what it talks about (a deleted platform, a revoked qualification).
    platform_id: int | None = Field(default=None, index=True)
    payload: str = Field(sa_type=Text)  # canonical JSON text, exactly as hashed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    hash: str = Field(max_length=64)


class AuditEventPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    platform_id: int | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class BadRowPublic(BaseModel):
    expected_seq: int
    seq: int | None
    reason: str


class AuditVerification(BaseModel):
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad: BadRowPublic | None
