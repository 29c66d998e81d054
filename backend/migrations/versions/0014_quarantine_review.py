"""quarantine review: who reviewed a quarantined message, the decision (release or discard) and a note

Revision ID: 0014_quarantine_review
Revises: 0013_alarm_rules
Create Date: 2026-11-29 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_quarantine_review"
down_revision: str | None = "0013_alarm_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("quarantined_telemetry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("review_note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )
        batch_op.create_foreign_key("fk_quarantined_reviewed_by", "app_user", ["reviewed_by_id"], ["id"])
        batch_op.create_index("ix_quarantined_telemetry_reviewed_at", ["reviewed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantined_telemetry", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantined_telemetry_reviewed_at")
        batch_op.drop_constraint("fk_quarantined_reviewed_by", type_="foreignkey")
        for column in ("review_note", "decision", "reviewed_by_id"):
            batch_op.drop_column(column)
