"""run.slot_freed_at: when the run's browser context closed and its session slot became free
(before its result is recorded)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("slot_freed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("slot_freed_at")
