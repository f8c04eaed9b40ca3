"""One history: the six branches made so far join here, and every later revision follows this one.

Until now each table had its own branch from 0001, so a database recorded six
heads in `alembic_version` and `alembic upgrade head` (what anyone who knows
Alembic types) refused to choose between them. This revision changes no table:
it only joins the branches, so an existing database upgrades to it in place and
`alembic_version` is left holding this one row.

Revision ID: 0010
Revises: 0002, 0005, 0006, 0007, 0008, 0009
"""

revision = "0010"
down_revision = ("0002", "0005", "0006", "0007", "0008", "0009")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
