"""schedules

Schedules of tests and suites (their timing is a Temporal schedule of the same ID), and the
schedule that queued a run.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 13:10:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("test_id", sa.Integer(), nullable=True),
        sa.Column("suite_id", sa.Integer(), nullable=True),
        sa.Column("cron", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("time_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("overlap", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_project_id"), ["project_id"], unique=False)
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("schedule_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_run_schedule_id"), ["schedule_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_schedule_id"))
        batch_op.drop_column("schedule_id")
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_project_id"))
    op.drop_table("schedule")
