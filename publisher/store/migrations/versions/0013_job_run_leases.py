"""job run leases: a period's job is finished or retried through the ledger, and taken over
when the daemon holding it is gone

Revision ID: 0013
Revises: 0012

The rows an older version wrote are marked finished when they started: it recorded no end, and
taking one of them over could send a weekly report twice.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("tries", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
    op.execute("UPDATE job_runs SET finished_at = started_at")


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_column("outcome")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("retry_at")
        batch_op.drop_column("tries")
        batch_op.drop_column("lease_until")
