"""Payments of awards (issue 19): their rows, recoveries, and history rows naming a payment.

`history.payment` is added in place (ALTER TABLE ADD COLUMN on both
dialects), so the table's append-only triggers stay as they are; rows
written before have none, and their seals do not change.

Revision ID: 1901
Revises: 2102
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "1901"
down_revision = "2102"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("history", sa.Column("payment", sa.String(length=8), nullable=True))
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=48), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=40), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("tranche", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("paid_by", sa.String(length=80), nullable=True),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("held_with_case", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["programme"], ["programmes.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
        sa.UniqueConstraint("case_id", "n"),
        sa.UniqueConstraint("case_id", "tranche"),
    )
    op.create_index(
        "ix_payments_programme_state", "payments", ["programme", "state", "amount_pence"]
    )
    op.create_index("ix_payments_state", "payments", ["state", "id"])
    op.create_table(
        "recoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=40), nullable=False),
        sa.Column("paid_pence", sa.BigInteger(), nullable=False),
        sa.Column("eligible_pence", sa.BigInteger(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["programme"], ["programmes.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    op.create_index("ix_recoveries_programme", "recoveries", ["programme", "amount_pence"])


def downgrade() -> None:
    op.drop_index("ix_recoveries_programme", table_name="recoveries")
    op.drop_table("recoveries")
    op.drop_index("ix_payments_state", table_name="payments")
    op.drop_index("ix_payments_programme_state", table_name="payments")
    op.drop_table("payments")
    # In place (SQLite 3.35's DROP COLUMN): a batch copy would lose history's triggers.
    op.drop_column("history", "payment")
