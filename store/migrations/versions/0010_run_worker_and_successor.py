"""run.worker_id: the worker whose context the run holds; run.successor_of: the run whose
session slot this one was admitted to take over when that run's context closes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 18:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("worker_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("successor_of", sa.Integer(), nullable=True))
        batch.create_index("ix_run_successor_of", ["successor_of"])
        batch.create_index(
            "ix_run_successor_line",
            ["project_id", "state", "successor_of", "priority_key", "id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_index("ix_run_successor_line")
        batch.drop_index("ix_run_successor_of")
        batch.drop_column("successor_of")
        batch.drop_column("worker_id")
