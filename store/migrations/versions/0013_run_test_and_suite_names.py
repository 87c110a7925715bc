"""run.test_name and run.suite_name: a run keeps the names it was queued under (filled in for
the runs already stored, from their input and their suite)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("run") as table:
        table.add_column(sa.Column("test_name", sa.String(length=200), nullable=True))
        table.add_column(sa.Column("suite_name", sa.String(length=200), nullable=True))
    connection = op.get_bind()
    run = sa.table(
        "run",
        sa.column("id", sa.Integer),
        sa.column("run_input", sa.JSON),
        sa.column("suite_id", sa.Integer),
        sa.column("test_name", sa.String),
        sa.column("suite_name", sa.String),
    )
    suite = sa.table("suite", sa.column("id", sa.Integer), sa.column("name", sa.String))
    suites = dict(connection.execute(sa.select(suite.c.id, suite.c.name)).all())
    last = 0
    while True:
        rows = connection.execute(
            sa.select(run.c.id, run.c.run_input, run.c.suite_id)
            .where(run.c.id > last)
            .order_by(run.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row_id, run_input, suite_id in rows:
            test = (run_input or {}).get("test") if isinstance(run_input, dict) else None
            name = test.get("name") if isinstance(test, dict) else None
            connection.execute(
                run.update()
                .where(run.c.id == row_id)
                .values(
                    test_name=str(name)[:200] if name is not None else None,
                    suite_name=suites.get(suite_id),
                )
            )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("run") as table:
        table.drop_column("suite_name")
        table.drop_column("test_name")
