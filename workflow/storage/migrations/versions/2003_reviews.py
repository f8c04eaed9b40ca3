"""The annual reviews of an award (DESIGN.md section 9): one row a review, walked by the sweep.

Revision ID: 2003
Revises: 1902
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "2003"
down_revision = "1902"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("next_step_at", UTCDateTime(), nullable=True),
        sa.Column("steps_done", sa.JSON(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "n"),
        sa.UniqueConstraint("ref"),
    )
    op.create_index("ix_reviews_next_step", "reviews", ["next_step_at", "id"])
    op.create_index("ix_reviews_due", "reviews", ["due"])


def downgrade() -> None:
    op.drop_index("ix_reviews_due", table_name="reviews")
    op.drop_index("ix_reviews_next_step", table_name="reviews")
    op.drop_table("reviews")
