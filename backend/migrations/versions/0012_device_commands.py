"""device commands: the outbox of lock, unlock and setpoint commands and their acknowledgements

Revision ID: 0012_device_commands
Revises: 0011_alarm_lifecycle
Create Date: 2026-11-29 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.types

revision: str = "0012_device_commands"
down_revision: str | None = "0011_alarm_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    moment = backend.models.types.UTCDateTime(timezone=True)
    op.create_table(
        "device_command",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("expires_at", moment, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", moment, nullable=True),
        sa.Column("next_attempt_at", moment, nullable=False),
        sa.Column("acked_at", moment, nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_command_resource_id", "device_command", ["resource_id"])
    op.create_index("ix_device_command_booking_id", "device_command", ["booking_id"])
    op.create_index("ix_device_command_open", "device_command", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_device_command_open", table_name="device_command")
    op.drop_index("ix_device_command_booking_id", table_name="device_command")
    op.drop_index("ix_device_command_resource_id", table_name="device_command")
    op.drop_table("device_command")
