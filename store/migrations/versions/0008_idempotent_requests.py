"""Requests sent with an Idempotency-Key, and their answers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:40:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotent_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "key"),
    )
    with op.batch_alter_table("idempotent_request") as batch:
        batch.create_index("ix_idempotent_request_project_id", ["project_id"], unique=False)
        batch.create_index("ix_idempotent_request_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("idempotent_request")
