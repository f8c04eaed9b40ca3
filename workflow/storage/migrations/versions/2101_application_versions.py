"""Every version of a case's application document, append-only (DESIGN section 10).

Version 1 is what the case was opened with; each amendment (a no-state history
row `amend` naming the new document's hash) adds the next. Cases opened before
this revision get their version 1 from the document they hold now (none could
be amended before). The database refuses UPDATE and DELETE (and on SQLite an
INSERT over an existing row), as for seals (1702).

Revision ID: 2101
Revises: 2301
"""

import sqlalchemy as sa
from alembic import op

from notifications.sqltypes import UTCDateTime
from states.documents import document_hash

revision = "2101"
down_revision = "2301"
branch_labels = None
depends_on = None

TABLE = "application_versions"


def _sqlite_guards() -> list[str]:
    refuse = f"SELECT RAISE(ABORT, '{TABLE} rows are append-only: %s refused')"
    return [
        f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} BEGIN {refuse % 'UPDATE'}; END",
        f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} BEGIN {refuse % 'DELETE'}; END",
        f"""CREATE TRIGGER {TABLE}_no_replace BEFORE INSERT ON {TABLE}
            WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id
                         OR (case_id = NEW.case_id AND version = NEW.version))
            BEGIN {refuse % "REPLACE"}; END""",
    ]


def _postgres_guards() -> list[str]:
    # seals_append_only() (1702) names the table and the operation it refuses.
    return [
        f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE OR DELETE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION seals_append_only()""",
        f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
            FOR EACH STATEMENT EXECUTE FUNCTION seals_append_only()""",
    ]


def upgrade() -> None:
    versions = op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "version"),
    )
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer()),
        sa.column("application", sa.JSON()),
        sa.column("created_at", UTCDateTime()),
    )
    history = sa.table(
        "history",
        sa.column("case_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("actor", sa.String()),
    )
    rows = list(
        bind.execute(
            sa.select(cases.c.id, cases.c.application, cases.c.created_at, history.c.actor)
            .select_from(
                cases.outerjoin(
                    history, sa.and_(history.c.case_id == cases.c.id, history.c.seq == 1)
                )
            )
            .order_by(cases.c.id)
        )
    )
    batch = []
    for r in rows:
        batch.append(
            {
                "case_id": r.id,
                "version": 1,
                "document": r.application,
                "sha256": document_hash(r.application),
                "changed": [],
                "actor": r.actor or "unknown",
                "at": r.created_at,
            }
        )
        if len(batch) == 1000:
            bind.execute(versions.insert(), batch)
            batch = []
    if batch:
        bind.execute(versions.insert(), batch)
    for sql in _postgres_guards() if bind.dialect.name == "postgresql" else _sqlite_guards():
        op.execute(sql)


def downgrade() -> None:
    op.drop_table(TABLE)
