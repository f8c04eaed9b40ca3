"""The web app: every sign-in attempt, kept so repeated failures slow and then lock a name;
and an index for the lists people page through (returns by state and escalation level,
soonest due first), so an inbox over 400,000 returns reads only the rows it shows.

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "0004"
down_revision = "0001"
branch_labels = ("web",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sign_in_attempts_name_at", "sign_in_attempts", ["name", "at"])
    op.create_index("ix_checkpoints_state_level_due", "checkpoints", ["state", "level", "due"])


def downgrade() -> None:
    op.drop_index("ix_checkpoints_state_level_due", table_name="checkpoints")
    op.drop_index("ix_sign_in_attempts_name_at", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
