"""post notes: the accounts and locales a post skips, for the reviewer

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite's batch mode would copy the table, which deliveries refer to.
    op.add_column("posts", sa.Column("notes", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("posts", "notes")
