"""the due-deliveries index in the dispatcher's order (priority descending)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index(
            "ix_deliveries_next",
            ["status", sa.text("priority DESC"), "not_before", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_next")
        batch_op.create_index(
            "ix_deliveries_due", ["status", "priority", "not_before"], unique=False
        )
