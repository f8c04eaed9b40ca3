"""Grant agreements (each version's PDF, append-only) and variations of awards (issue 19).

Revision ID: 1911
Revises: 2101
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "1911"
down_revision = "2101"
branch_labels = None
depends_on = None

_REFUSE = "SELECT RAISE(ABORT, 'agreements rows are append-only: %s refused')"
_SQLITE_GUARDS = [
    f"CREATE TRIGGER agreements_no_update BEFORE UPDATE ON agreements BEGIN {_REFUSE % 'UPDATE'}; END",
    f"CREATE TRIGGER agreements_no_delete BEFORE DELETE ON agreements BEGIN {_REFUSE % 'DELETE'}; END",
    f"""CREATE TRIGGER agreements_no_replace BEFORE INSERT ON agreements
        WHEN EXISTS (SELECT 1 FROM agreements WHERE id = NEW.id
                     OR (case_id = NEW.case_id AND version = NEW.version))
        BEGIN {_REFUSE % "REPLACE"}; END""",
]
_POSTGRES_GUARDS = [
    """CREATE FUNCTION agreements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP; END $$""",
    """CREATE TRIGGER agreements_no_update BEFORE UPDATE OR DELETE ON agreements
       FOR EACH ROW EXECUTE FUNCTION agreements_append_only()""",
    """CREATE TRIGGER agreements_no_truncate BEFORE TRUNCATE ON agreements
       FOR EACH STATEMENT EXECUTE FUNCTION agreements_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("variation", sa.String(length=8), nullable=True),
        sa.Column("made_by", sa.String(length=80), nullable=False),
        sa.Column("made_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "version"),
    )
    op.create_table(
        "variations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=48), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=True),
        sa.Column("previous_pence", sa.BigInteger(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("agreement_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "n"),
        sa.UniqueConstraint("ref"),
    )
    op.create_index("ix_variations_state", "variations", ["state"])
    guards = _POSTGRES_GUARDS if op.get_bind().dialect.name == "postgresql" else _SQLITE_GUARDS
    for sql in guards:
        op.execute(sql)


def downgrade() -> None:
    op.drop_index("ix_variations_state", table_name="variations")
    op.drop_table("variations")
    op.drop_table("agreements")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION agreements_append_only()")
