"""account freshness: last content per account, the sweep's notices, evergreen items used

Revision ID: 0010
Revises: 0009

``account_activity`` is backfilled from the deliveries already in the ledger, so an upgraded
ledger knows at once how long each account has been silent; whether an account is failing is
learnt from its next attempt.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_activity",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("tracked_since", sa.DateTime(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_dry_run_at", sa.DateTime(), nullable=True),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("account"),
    )
    with op.batch_alter_table("account_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_activity_last_sent_at"), ["last_sent_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_activity_last_dry_run_at"), ["last_dry_run_at"], unique=False
        )
    op.execute(
        """
        INSERT INTO account_activity (account, tracked_since, last_sent_at, last_dry_run_at)
        SELECT account,
               MIN(not_before),
               MAX(CASE WHEN status = 'sent' THEN finished_at END),
               MAX(CASE WHEN status = 'dry_run' THEN finished_at END)
        FROM deliveries
        WHERE counts_for_freshness
        GROUP BY account
        """
    )

    op.create_table(
        "freshness_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("emailed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("freshness_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_freshness_notices_account"), ["account"], unique=False)

    op.create_table(
        "evergreen_uses",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("item", sa.String(length=255), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"]),
        sa.PrimaryKeyConstraint("account", "item"),
    )


def downgrade() -> None:
    op.drop_table("evergreen_uses")
    with op.batch_alter_table("freshness_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_freshness_notices_account"))
    op.drop_table("freshness_notices")
    with op.batch_alter_table("account_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_activity_last_dry_run_at"))
        batch_op.drop_index(batch_op.f("ix_account_activity_last_sent_at"))
    op.drop_table("account_activity")
