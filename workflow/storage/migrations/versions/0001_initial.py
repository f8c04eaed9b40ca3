"""Initial schema: the case engine, its history chain, the fund ledger, assessment and the outbox.

History rows can never be changed or removed: the database itself refuses.

Revision ID: 0001
Revises:
"""

from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


HISTORY_GUARDS_SQLITE = [
    """CREATE TRIGGER history_no_update BEFORE UPDATE ON history
       BEGIN SELECT RAISE(ABORT, 'history rows are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER history_no_delete BEFORE DELETE ON history
       BEGIN SELECT RAISE(ABORT, 'history rows are append-only: DELETE refused'); END""",
]
HISTORY_GUARDS_POSTGRES = [
    """CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'history rows are append-only: % refused', TG_OP; END $$""",
    """CREATE TRIGGER history_no_update BEFORE UPDATE OR DELETE ON history
       FOR EACH ROW EXECUTE FUNCTION history_append_only()""",
    """CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
       FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()""",
]


def _guard_history() -> None:
    dialect = op.get_bind().dialect.name
    for sql in HISTORY_GUARDS_POSTGRES if dialect == "postgresql" else HISTORY_GUARDS_SQLITE:
        op.execute(sql)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "organisations",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("escalation_email", sa.String(length=254), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("esg_allocation_pence", sa.BigInteger(), nullable=True),
        sa.Column("org_id", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=True),
        sa.Column("checkpoint_ref", sa.String(length=48), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("to_addrs", sa.JSON(), nullable=False),
        sa.Column("cc_addrs", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("claim_expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("smtp_response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_case_ref"), ["case_ref"], unique=False)
        batch_op.create_index("ix_outbox_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "programmes",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("fund_pence", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "people",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("org", sa.String(length=40), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org"],
            ["organisations.code"],
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("programme", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("lead", sa.String(length=40), nullable=False),
        sa.Column("partners", sa.JSON(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=True),
        sa.Column("application", sa.JSON(), nullable=False),
        sa.Column("caseworker", sa.String(length=80), nullable=True),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("contribution_pence", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["caseworker"],
            ["people.name"],
        ),
        sa.ForeignKeyConstraint(
            ["lead"],
            ["organisations.code"],
        ),
        sa.ForeignKeyConstraint(
            ["programme"],
            ["programmes.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_kind_state", ["kind", "state"], unique=False)
        batch_op.create_index("ix_cases_lead", ["lead"], unique=False)
        batch_op.create_index("ix_cases_programme_state", ["programme", "state"], unique=False)

    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=48), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("steps_done", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=True),
        sa.Column("attachment_sha256", sa.String(length=64), nullable=True),
        sa.Column("attachment_name", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "n"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.create_index("ix_checkpoints_next_step", ["next_step_at"], unique=False)
        batch_op.create_index("ix_checkpoints_state", ["state"], unique=False)

    op.create_table(
        "declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=80), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person"],
            ["people.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "person"),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sa.String(length=8), nullable=True),
        sa.Column("from_state", sa.String(length=40), nullable=True),
        sa.Column("to_state", sa.String(length=40), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "seq"),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_at", ["at"], unique=False)

    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("entry", sa.String(length=10), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["programme"],
            ["programmes.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_programme", ["programme", "category"], unique=False)

    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("assessor", sa.String(length=80), nullable=False),
        sa.Column("innovation", sa.Integer(), nullable=False),
        sa.Column("costs", sa.Integer(), nullable=False),
        sa.Column("savings", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("agreed", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor"],
            ["people.name"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "assessor", "agreed"),
    )
    _guard_history()


def downgrade() -> None:
    op.drop_table("scores")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_programme")

    op.drop_table("ledger")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_at")

    op.drop_table("history")
    op.drop_table("declarations")
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_checkpoints_state")
        batch_op.drop_index("ix_checkpoints_next_step")

    op.drop_table("checkpoints")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_programme_state")
        batch_op.drop_index("ix_cases_lead")
        batch_op.drop_index("ix_cases_kind_state")

    op.drop_table("cases")
    op.drop_table("people")
    op.drop_table("programmes")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_index(batch_op.f("ix_outbox_case_ref"))

    op.drop_table("outbox")
    op.drop_table("organisations")
    op.drop_table("meta")
