"""Seals (DESIGN section 11) and the public keys that sign them, both append-only.

Revision ID: 1702
Revises: 1701
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime

revision = "1702"
down_revision = "1701"
branch_labels = None
depends_on = None

# table -> its key column: UPDATE, DELETE (and on SQLite a REPLACE) are refused.
APPEND_ONLY = {"seals": "number", "audit_keys": "public_key"}


def _sqlite_guards(table: str, key: str) -> list[str]:
    refuse = f"SELECT RAISE(ABORT, '{table} rows are append-only: %s refused')"
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN {refuse % 'UPDATE'}; END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN {refuse % 'DELETE'}; END",
        f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
            WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key})
            BEGIN {refuse % "REPLACE"}; END""",
    ]


def _postgres_guards(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION seals_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION seals_append_only()""",
    ]


def upgrade() -> None:
    op.create_table(
        "seals",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("endorsement", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "audit_keys",
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("public_key"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE FUNCTION seals_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                      BEGIN RAISE EXCEPTION '% rows are append-only: % refused',
                      TG_TABLE_NAME, TG_OP; END $$""")
        for table in APPEND_ONLY:
            for sql in _postgres_guards(table):
                op.execute(sql)
    else:
        for table, key in APPEND_ONLY.items():
            for sql in _sqlite_guards(table, key):
                op.execute(sql)


def downgrade() -> None:
    op.drop_table("audit_keys")
    op.drop_table("seals")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION seals_append_only()")
