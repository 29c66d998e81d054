"""alarm lifecycle: state (active, acknowledged, cleared) with who and when, and the booking it hit

Revision ID: 0011_alarm_lifecycle
Revises: 0010_login_defence
Create Date: 2026-11-29 17:47:59.004072
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.types

revision: str = "0011_alarm_lifecycle"
down_revision: str | None = "0010_login_defence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        # Alarms stored before the lifecycle existed are active: nobody has acknowledged them.
        batch_op.add_column(sa.Column("state", sa.String(length=12), nullable=False, server_default="active"))
        batch_op.add_column(
            sa.Column("acknowledged_at", backend.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("acknowledged_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("cleared_at", backend.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("cleared_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))
        batch_op.add_column(sa.Column("booking_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alarm_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarm_state"), ["state"], unique=False)
        batch_op.create_foreign_key("fk_alarm_booking", "booking", ["booking_id"], ["id"])
        batch_op.create_foreign_key("fk_alarm_acknowledged_by", "app_user", ["acknowledged_by_id"], ["id"])
        batch_op.create_foreign_key("fk_alarm_cleared_by", "app_user", ["cleared_by_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alarm_cleared_by", type_="foreignkey")
        batch_op.drop_constraint("fk_alarm_acknowledged_by", type_="foreignkey")
        batch_op.drop_constraint("fk_alarm_booking", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alarm_state"))
        batch_op.drop_index(batch_op.f("ix_alarm_booking_id"))
        for column in (
            "booking_id",
            "note",
            "cleared_by_id",
            "cleared_at",
            "acknowledged_by_id",
            "acknowledged_at",
            "state",
        ):
            batch_op.drop_column(column)
