"""run.session_attempt: the session attempt a run's row follows, fencing late writes

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


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("session_attempt")
