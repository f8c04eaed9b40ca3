"""Monitoring: the sweep's claim index, when each checkpoint was scheduled, the sweep's `meta` rows.

The sweep claims `ORDER BY next_step_at, id LIMIT 1`. With `next_step_at`
alone indexed, PostgreSQL sorts every row sharing the first moment to find
the lowest id (returns due the same day share it), so each claim cost what
the backlog is; on (next_step_at, id) it reads one row. SQLite's index
already ends with the rowid.

`scheduled_at` lets the sweep tell a step that is late (the service was down)
from one that fell due before its checkpoint existed (fixed return dates close
to the award), which is not late at all. The `meta` rows are created here so
that two workers recording their sweeps only ever UPDATE them (two INSERTs of a
missing key would race).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = ("monitoring",)
depends_on = None

META_KEYS = ("sweep", "sweep_interval")


def upgrade() -> None:
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_at", UTCDateTime(), nullable=True))
        batch_op.drop_index("ix_checkpoints_next_step")
        batch_op.create_index("ix_checkpoints_next_step", ["next_step_at", "id"], unique=False)
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.JSON))
    op.bulk_insert(meta, [{"key": key, "value": {}} for key in META_KEYS])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM meta WHERE key IN ('sweep', 'sweep_interval')"))
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_checkpoints_next_step")
        batch_op.create_index("ix_checkpoints_next_step", ["next_step_at"], unique=False)
        batch_op.drop_column("scheduled_at")
