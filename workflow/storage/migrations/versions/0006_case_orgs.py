"""Which organisations each case involves (its lead and its partners), indexed.

A council person sees the cases their organisation leads or is a partner in;
with partners kept only inside a JSON column, finding those meant reading
every case. This table answers it from an index, and is filled from the
cases already there.

Revision ID: 0006
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0001"
branch_labels = ("case_orgs",)
depends_on = None

BACKFILL = {
    "sqlite": """INSERT INTO case_orgs (org, case_id, role)
                 SELECT DISTINCT j.value, c.id, 'partner' FROM cases c, json_each(c.partners) j
                 WHERE j.value <> c.lead""",
    "postgresql": """INSERT INTO case_orgs (org, case_id, role)
                     SELECT DISTINCT j.value, c.id, 'partner'
                     FROM cases c, json_array_elements_text(c.partners::json) AS j(value)
                     WHERE j.value <> c.lead""",
}


def upgrade() -> None:
    op.create_table(
        "case_orgs",
        sa.Column("org", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("org", "case_id"),
    )
    op.execute("INSERT INTO case_orgs (org, case_id, role) SELECT lead, id, 'lead' FROM cases")
    op.execute(BACKFILL[op.get_bind().dialect.name])


def downgrade() -> None:
    op.drop_table("case_orgs")
