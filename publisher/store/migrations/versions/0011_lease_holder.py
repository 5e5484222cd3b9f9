"""lease holder: the attempt whose call holds a delivery's lease, so a heartbeat can renew it

Revision ID: 0011
Revises: 0010

A lease used to be recognised by its end time; now that a heartbeat moves the end, the holder is
named by its attempt instead. A delivery left ``sending`` by an older version keeps no holder: its
lease expires as before and it is reconciled.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_holder", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("lease_holder")
