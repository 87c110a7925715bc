"""Workers report the browser sessions they run, for /health

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 02:35:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("worker_slots") as batch:
        batch.add_column(
            sa.Column("sessions_in_use", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("worker_slots") as batch:
        batch.drop_column("sessions_in_use")
