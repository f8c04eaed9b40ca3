"""Administration that leaves a trace (DESIGN sections 9 and 10).

- `admin_log`: one hash-chained row for each change an administrator makes
  (an organisation, a person's roles or standing, a programme's file or its
  senior responsible owner): who, when, what, before and after. Append-only
  as history is: UPDATE, DELETE (and TRUNCATE) refused, and on SQLite an
  INSERT over an existing id (`INSERT OR REPLACE` deletes without firing
  DELETE triggers).
- `programmes.sro`: the programme's senior responsible owner (a person with
  role `approver`), NULL until one is named.
- (the `meta` row `admin_log`, where the log ends, is written by the first
  change: workflow.services.admin_log.)
- `people.disabled_at`: when a person was disabled (NULL while they may act);
  their rows stay, so their history keeps its names.

Revision ID: 2102
Revises: 1911
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "2102"
down_revision = "1911"
branch_labels = None
depends_on = None

_REFUSE = "SELECT RAISE(ABORT, 'admin_log rows are append-only: %s refused')"
SQLITE = [
    f"CREATE TRIGGER admin_log_no_update BEFORE UPDATE ON admin_log BEGIN {_REFUSE % 'UPDATE'}; END",
    f"CREATE TRIGGER admin_log_no_delete BEFORE DELETE ON admin_log BEGIN {_REFUSE % 'DELETE'}; END",
    f"""CREATE TRIGGER admin_log_no_replace BEFORE INSERT ON admin_log
        WHEN EXISTS (SELECT 1 FROM admin_log WHERE id = NEW.id)
        BEGIN {_REFUSE % "REPLACE"}; END""",
]
POSTGRES = [
    """CREATE FUNCTION admin_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'admin_log rows are append-only: % refused', TG_OP; END $$""",
    """CREATE TRIGGER admin_log_no_update BEFORE UPDATE OR DELETE ON admin_log
       FOR EACH ROW EXECUTE FUNCTION admin_log_append_only()""",
    """CREATE TRIGGER admin_log_no_truncate BEFORE TRUNCATE ON admin_log
       FOR EACH STATEMENT EXECUTE FUNCTION admin_log_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "admin_log",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_admin_log_target", "admin_log", ["action", "target"])
    with op.batch_alter_table("programmes") as batch_op:
        batch_op.add_column(sa.Column("sro", sa.String(length=80), nullable=True))
    with op.batch_alter_table("people") as batch_op:
        batch_op.add_column(sa.Column("disabled_at", UTCDateTime(), nullable=True))
    for sql in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(sql)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM meta WHERE key = 'admin_log'"))
    # ALTER TABLE ... DROP COLUMN on both (SQLite since 3.35): rebuilding `people` as batch
    # mode would need its table dropped, which the foreign keys to it refuse.
    op.execute(sa.text("ALTER TABLE people DROP COLUMN disabled_at"))
    op.execute(sa.text("ALTER TABLE programmes DROP COLUMN sro"))
    op.drop_index("ix_admin_log_target", table_name="admin_log")
    op.drop_table("admin_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION admin_log_append_only()")
