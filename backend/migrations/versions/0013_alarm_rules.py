"""alarm rules evaluated by ingest, fault episodes of resources, and the repair policy of platforms

Revision ID: 0013_alarm_rules
Revises: 0012_device_commands
Create Date: 2026-11-29 18:56:44.626145
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.types

revision: str = "0013_alarm_rules"
down_revision: str | None = "0012_device_commands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=True),
        sa.Column("device_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("signal", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("clear_limit", sa.Float(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", backend.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backend.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["platform_id"], ["platform.id"]),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform_id", "code", name="uq_alarm_rule_code"),
    )
    with op.batch_alter_table("alarm_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_rule_platform_id"), ["platform_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarm_rule_resource_id"), ["resource_id"], unique=False)

    op.create_table(
        "resource_fault",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("started_at", backend.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", backend.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("open_resource_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_resource_id", name="uq_resource_fault_open"),
    )
    with op.batch_alter_table("resource_fault", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_fault_resource_id"), ["resource_id"], unique=False)

    op.create_table(
        "alarm_rule_state",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("breach_since", backend.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_ns", sa.BigInteger(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarm.id"]),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["alarm_rule.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resource_id", "rule_id"),
    )
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        # Alarms stored before rules existed came from the instruments' own events.
        batch_op.add_column(
            sa.Column("source", sa.String(length=10), nullable=False, server_default="device")
        )
        batch_op.add_column(sa.Column("rule_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("open_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_alarm_rule_id"), ["rule_id"], unique=False)
        batch_op.create_unique_constraint("uq_alarm_open", ["resource_id", "open_key"])
        batch_op.create_foreign_key("fk_alarm_rule", "alarm_rule", ["rule_id"], ["id"], ondelete="SET NULL")

    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fault_outage_hours", sa.Float(), nullable=False, server_default="4"))
        batch_op.add_column(
            sa.Column("auto_apply_repairs_up_to_moves", sa.Integer(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("schedule_repair", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fault_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_schedule_repair_fault", ["fault_id"])
        batch_op.create_foreign_key("fk_schedule_repair_fault", "resource_fault", ["fault_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("schedule_repair", schema=None) as batch_op:
        batch_op.drop_constraint("fk_schedule_repair_fault", type_="foreignkey")
        batch_op.drop_constraint("uq_schedule_repair_fault", type_="unique")
        batch_op.drop_column("fault_id")

    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("auto_apply_repairs_up_to_moves")
        batch_op.drop_column("fault_outage_hours")

    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alarm_rule", type_="foreignkey")
        batch_op.drop_constraint("uq_alarm_open", type_="unique")
        batch_op.drop_index(batch_op.f("ix_alarm_rule_id"))
        batch_op.drop_column("open_key")
        batch_op.drop_column("rule_id")
        batch_op.drop_column("source")

    op.drop_table("alarm_rule_state")
    with op.batch_alter_table("resource_fault", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_fault_resource_id"))
    op.drop_table("resource_fault")
    with op.batch_alter_table("alarm_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_rule_resource_id"))
        batch_op.drop_index(batch_op.f("ix_alarm_rule_platform_id"))
    op.drop_table("alarm_rule")
