"""Scores set aside by a conflict of interest declared after scoring.

An assessor who finds a conflict after scoring a bid may still declare it
while the bid is being assessed. Their score, and any agreed score settled
with it, are then set aside: kept, marked with when (`set_aside_at`), and
counted for nothing. One live score per assessor and kind is still the rule,
so the table's unique constraint becomes a unique index over live rows only:
a moderator whose agreed score was set aside can agree a new one.

It changes only scores, which 0001 made, so it branches from 0001 like the
other revisions.

Revision ID: 0009
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "0009"
down_revision = "0001"
branch_labels = ("scores_set_aside",)
depends_on = None

# 0001 left the constraint unnamed; these names let batch mode find it on
# SQLite (where it is reflected without one) and match PostgreSQL's own.
UNIQUE = "scores_case_id_assessor_agreed_key"
NAMING = {"uq": "%(table_name)s_%(column_0_name)s_assessor_agreed_key"}
LIVE = sa.text("set_aside_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("scores", naming_convention=NAMING) as batch_op:
        batch_op.add_column(sa.Column("set_aside_at", UTCDateTime(), nullable=True))
        batch_op.drop_constraint(UNIQUE, type_="unique")
    op.create_index(
        "uq_scores_live",
        "scores",
        ["case_id", "assessor", "agreed"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_scores_live", table_name="scores")
    with op.batch_alter_table("scores", naming_convention=NAMING) as batch_op:
        batch_op.create_unique_constraint(UNIQUE, ["case_id", "assessor", "agreed"])
        batch_op.drop_column("set_aside_at")
