"""Drop the index on checkpoints.state alone: 0004's index on (state, level, due)
serves every query on state, and each index is one more page written by every
ladder step that moves a checkpoint.

Revision ID: 0008
Revises: 0004
"""

from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_checkpoints_state", table_name="checkpoints")


def downgrade() -> None:
    op.create_index("ix_checkpoints_state", "checkpoints", ["state"])
