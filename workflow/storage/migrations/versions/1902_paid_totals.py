"""Each programme's paid total, kept as payments are made (issue 19's figures at scale).

Filled from the payments already paid, so a database that paid before this keeps
figures equal to its rows.

Revision ID: 1902
Revises: 1912
"""

import sqlalchemy as sa
from alembic import op

revision = "1902"
down_revision = "1912"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paid_totals",
        sa.Column("programme", sa.String(length=40), nullable=False),
        sa.Column("paid_pence", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["programme"], ["programmes.code"]),
        sa.PrimaryKeyConstraint("programme"),
    )
    op.execute(
        "INSERT INTO paid_totals (programme, paid_pence, payments) "
        "SELECT programme, SUM(amount_pence), COUNT(*) FROM payments "
        "WHERE state = 'paid' GROUP BY programme"
    )


def downgrade() -> None:
    op.drop_table("paid_totals")
