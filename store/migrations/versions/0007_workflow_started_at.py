"""run.dispatched_at is run.workflow_started_at: when the run's workflow was started (admission
is admitted_at)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:10:00.000000
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rename("dispatched_at", "workflow_started_at")


def downgrade() -> None:
    _rename("workflow_started_at", "dispatched_at")


def _rename(old: str, new: str) -> None:
    """The column and its index (in two batches: SQLite rebuilds the table for each)."""
    with op.batch_alter_table("run") as batch:
        batch.drop_index(f"ix_run_{old}")
        batch.alter_column(old, new_column_name=new)
    with op.batch_alter_table("run") as batch:
        batch.create_index(f"ix_run_{new}", [new], unique=False)
