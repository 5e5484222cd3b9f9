"""delivery kinds: a post, or a retweet or share amplifying another delivery

Existing rows are posts, and posts count for freshness. One delivery per post, account, locale
and kind: an account may publish a post and also retweet another account's delivery of it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="post")
        )
        batch_op.add_column(sa.Column("source_delivery_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "counts_for_freshness", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch_op.create_foreign_key(
            "fk_deliveries_source_delivery_id", "deliveries", ["source_delivery_id"], ["id"]
        )
        batch_op.drop_constraint("uq_delivery_post_account_locale", type_="unique")
        batch_op.create_unique_constraint(
            "uq_delivery_post_account_locale_kind", ["post_id", "account", "locale", "kind"]
        )
    _dispatch_order_index()


def _dispatch_order_index() -> None:
    """SQLite's batch mode rebuilds the table and its indexes from reflection, which loses the
    DESC of the dispatcher's index (0005): made again as it was."""
    op.drop_index("ix_deliveries_next", table_name="deliveries")
    op.create_index(
        "ix_deliveries_next",
        "deliveries",
        ["status", sa.text("priority DESC"), "not_before", "id"],
        unique=False,
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_delivery_post_account_locale_kind", type_="unique")
        batch_op.create_unique_constraint(
            "uq_delivery_post_account_locale", ["post_id", "account", "locale"]
        )
        batch_op.drop_constraint("fk_deliveries_source_delivery_id", type_="foreignkey")
        batch_op.drop_column("counts_for_freshness")
        batch_op.drop_column("source_delivery_id")
        batch_op.drop_column("kind")
    _dispatch_order_index()
