"""IDs never reused, and limits per project

On SQLite, tables with an integer key get AUTOINCREMENT, so an ID is never handed out again
after a delete (a schedule or a client that kept an ID can never reach another tenant's row
under it). PostgreSQL's sequences never reuse IDs. Projects get `limits`, the admin's
overrides of the service's default limits.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("project", "test", "suite", "auth_flow", "run")


def upgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.drop_column("limits")
