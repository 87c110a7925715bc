"""run.session_attempt and run.admitted_by: late writes fenced, grants attributed

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 01:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("session_attempt", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("admitted_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("admitted_by")
        batch.drop_column("session_attempt")
