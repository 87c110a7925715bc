"""dashboard_session: the dashboard's sessions live on the server (sign-out, token rotation
and the admin end them at once)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_session",
        sa.Column("id_hash", sa.String(length=64), primary_key=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("token_tag", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
    )
    op.create_index("ix_dashboard_session_project_id", "dashboard_session", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_session_project_id", table_name="dashboard_session")
    op.drop_table("dashboard_session")
