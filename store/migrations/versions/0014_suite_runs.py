"""run.suite_run_id: the runs of one suite request belong together

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as table:
        table.add_column(sa.Column("suite_run_id", sa.String(length=100), nullable=True))
    op.create_index("ix_run_suite_run_id", "run", ["suite_run_id"])


def downgrade() -> None:
    op.drop_index("ix_run_suite_run_id", table_name="run")
    with op.batch_alter_table("run") as table:
        table.drop_column("suite_run_id")
