"""The fund ledger's running balance: each row says what the programme has committed after it.

Every offer's guard and every decline read the committed total; summing the
whole ledger for it cost what the ledger's length is. Each row now carries
`balance_pence`, the programme's reserved minus released once that row is
written, so the total is the latest row's balance, found on
(programme, id). What one case holds is summed over its own rows, found on
case_id. The rows stay: the balance can always be explained by them.

Rows already there get their balances here: the running sum of each
programme's rows in id order (the order they were written).

It changes only the ledger, which 0001 made, so it branches from 0001 like
the other revisions (`casework init` upgrades to every head).

Revision ID: 0007
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = ("ledger_balance",)
depends_on = None

# UPDATE … FROM and window functions: PostgreSQL, and SQLite since 3.33.
BACKFILL = """
UPDATE ledger SET balance_pence = running.balance
FROM (SELECT id, SUM(CASE WHEN entry = 'reserve' THEN amount_pence ELSE -amount_pence END)
                 OVER (PARTITION BY programme ORDER BY id) AS balance
      FROM ledger) AS running
WHERE ledger.id = running.id
"""


def upgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("balance_pence", sa.BigInteger(), nullable=True))
    op.execute(sa.text(BACKFILL))
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.alter_column("balance_pence", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index("ix_ledger_programme_id", ["programme", "id"], unique=False)
        batch_op.create_index("ix_ledger_case", ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_case")
        batch_op.drop_index("ix_ledger_programme_id")
        batch_op.drop_column("balance_pence")
