"""attempt outcomes such as reconcile:uncertain need more than 16 characters

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "outcome", type_=sa.String(length=32), existing_type=sa.String(length=16)
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "outcome", type_=sa.String(length=16), existing_type=sa.String(length=32)
        )
