"""History and cases hold against any client, not only this program.

SQLite's `INSERT OR REPLACE` over an existing row deletes it without firing
DELETE triggers (unless that client turned `recursive_triggers` on), so a
history row could be replaced with the append-only triggers in place. A BEFORE
INSERT trigger refusing a row whose id, or whose (case, seq), already exists
stops it whatever the client's pragmas. Cases are never deleted either: a
deleted case would leave its history rows behind, unread by `audit verify`.

Revision ID: 1701
Revises: 0010
"""

from alembic import op

revision = "1701"
down_revision = "0010"
branch_labels = None
depends_on = None

SQLITE = [
    """CREATE TRIGGER history_no_replace BEFORE INSERT ON history
       WHEN EXISTS (SELECT 1 FROM history WHERE id = NEW.id
                    OR (case_id = NEW.case_id AND seq = NEW.seq))
       BEGIN SELECT RAISE(ABORT, 'history rows are append-only: REPLACE refused'); END""",
    """CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases
       BEGIN SELECT RAISE(ABORT, 'cases are never deleted: DELETE refused'); END""",
    """CREATE TRIGGER cases_no_replace BEFORE INSERT ON cases
       WHEN EXISTS (SELECT 1 FROM cases WHERE id = NEW.id OR ref = NEW.ref)
       BEGIN SELECT RAISE(ABORT, 'cases are never deleted: REPLACE refused'); END""",
]
POSTGRES = [
    """CREATE FUNCTION cases_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'cases are never deleted: % refused', TG_OP; END $$""",
    """CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases
       FOR EACH ROW EXECUTE FUNCTION cases_never_deleted()""",
    """CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases
       FOR EACH STATEMENT EXECUTE FUNCTION cases_never_deleted()""",
]


def upgrade() -> None:
    for sql in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER cases_no_truncate ON cases")
        op.execute("DROP TRIGGER cases_no_delete ON cases")
        op.execute("DROP FUNCTION cases_never_deleted()")
    else:
        for name in ("history_no_replace", "cases_no_delete", "cases_no_replace"):
            op.execute(f"DROP TRIGGER {name}")
