"""The outbox keeps GOV.UK Notify's ids for each row and where its receipts stand.

`notify_ids` is a JSON list, one `{"id", "to", "status"}` a recipient (Notify
sends to one address at a time); `receipt` is "pending" until every
notification has a final status, then "delivered" (NULL for rows another
transport sent). The index finds the rows whose receipts are still to come.

Revision ID: 2301
Revises: 1702
"""

import sqlalchemy as sa
from alembic import op

revision = "2301"
down_revision = "1702"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("notify_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("receipt", sa.String(length=20), nullable=True))
    op.create_index("ix_outbox_receipt", "outbox", ["receipt"])


def downgrade() -> None:
    op.drop_index("ix_outbox_receipt", table_name="outbox")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("receipt")
        batch_op.drop_column("notify_ids")
