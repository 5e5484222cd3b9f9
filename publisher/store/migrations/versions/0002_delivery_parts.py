"""delivery parts and review notes

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("notes", sa.JSON(), nullable=False, server_default="[]"))
    # A delivery recorded before parts existed was published as its text alone.
    deliveries = sa.table(
        "deliveries",
        sa.column("id", sa.Integer),
        sa.column("text", sa.Text),
        sa.column("tags", sa.JSON),
        sa.column("parts", sa.JSON),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(deliveries.c.id, deliveries.c.text, deliveries.c.tags)):
        part = {"kind": "post", "text": row.text, "tags": row.tags}
        bind.execute(deliveries.update().where(deliveries.c.id == row.id).values(parts=[part]))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("notes")
        batch_op.drop_column("parts")
