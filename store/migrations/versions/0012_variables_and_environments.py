"""variable_set: a project's variables and secrets, and its named environments; a schedule
names its environment

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "variable_set",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id"), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("secret_names", sa.JSON(), nullable=False),
        sa.Column("sealed_secrets", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "environment"),
    )
    op.create_index("ix_variable_set_project_id", "variable_set", ["project_id"])
    with op.batch_alter_table("schedule") as table:
        table.add_column(sa.Column("environment", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule") as table:
        table.drop_column("environment")
    op.drop_index("ix_variable_set_project_id", table_name="variable_set")
    op.drop_table("variable_set")
