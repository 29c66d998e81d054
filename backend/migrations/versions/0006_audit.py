"""audit chain: append-only audit_event (hash chain) and its one-row head

Revision ID: 0006_audit
Revises: 0005_usage
Create Date: 2026-11-27 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.types

revision: str = "0006_audit"
down_revision: str | None = "0005_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

# Rows of the chain are never changed or removed by the application; the database refuses it too,
# so only someone who can drop these triggers can tamper -- and verification then names the row.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$""",
    """CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
       FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
       FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", backend.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_platform_id"), ["platform_id"], unique=False)
        batch_op.create_index("ix_audit_event_subject", ["subject_type", "subject_id"], unique=False)

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_event")  # its indexes and triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
