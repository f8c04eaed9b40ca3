"""An agreement version keeps its text as JSON beside its PDF, for the web page to show.

The PDF stays what was signed (its SHA-256 is in the history); `terms` is
the same text as data, drawn up in the same transaction. A plain ADD COLUMN
on SQLite too: rebuilding the table would drop its append-only triggers.

Revision ID: 1912
Revises: 1901
"""

import sqlalchemy as sa
from alembic import op

revision = "1912"
down_revision = "1901"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agreements", sa.Column("terms", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35 and later) drops a column in place too, keeping the table's triggers.
    op.drop_column("agreements", "terms")
