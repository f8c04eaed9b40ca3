"""Monitoring: when each checkpoint was scheduled, and the sweep's records in `meta`.

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
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.JSON))
    op.bulk_insert(meta, [{"key": key, "value": {}} for key in META_KEYS])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM meta WHERE key IN ('sweep', 'sweep_interval')"))
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_column("scheduled_at")
