"""The tables of the case engine, declared with SQLAlchemy Core.

Services read and write them with Core statements (and the hot path's
`Prepared` ones); nothing builds ORM objects, so nothing imports the ORM:
every command starts without it. Declared on the one MetaData the outbox
shares (notifications/sqltypes.py). Money is whole pence; times are UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from notifications.outbox_table import outbox
from notifications.sqltypes import UTCDateTime, metadata

programmes = Table(
    "programmes",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(10), nullable=False),  # bids | areas
    Column("fund_pence", BigInteger, nullable=False),
    Column("source", Text, nullable=False),  # the TOML it came from
    Column("last_number", Integer, nullable=False, default=0),
    Column("loaded_at", UTCDateTime, nullable=False),
    # The senior responsible owner: a person with role approver (migration 2102).
    Column("sro", String(80)),
)


organisations = Table(
    "organisations",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("escalation_email", String(254)),
    Column("kind", String(20), nullable=False),
    Column("esg_allocation_pence", BigInteger),
    Column("org_id", String(80)),
)


people = Table(
    "people",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("roles", JSON, nullable=False),
    Column("email", String(254)),
    Column("org", String(40), ForeignKey("organisations.code")),
    Column("password_hash", Text),
    # When an admin disabled them: no sign-in, token or action since (migration 2102).
    Column("disabled_at", UTCDateTime),
)


cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(40), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # bid | area
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False),
    Column("state", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("category", String(40)),
    Column("lead", String(40), ForeignKey("organisations.code"), nullable=False),
    Column("partners", JSON, nullable=False),
    Column("amount_pence", BigInteger),
    Column("application", JSON, nullable=False),
    Column("caseworker", String(80), ForeignKey("people.name")),
    Column("at_risk", Boolean, nullable=False, default=False),
    Column("contribution_pence", BigInteger),
    # The head of the history chain: the next row's seq and prev_hash. Kept
    # here so appending takes the case row's lock instead of racing on seq.
    Column("last_seq", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_cases_programme_state", "programme", "state"),
    Index("ix_cases_kind_state", "kind", "state"),
    Index("ix_cases_lead", "lead"),
)


# An organisation a case involves: its lead, or one of its partners.
case_orgs = Table(
    "case_orgs",
    metadata,
    Column("org", String(40), primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("role", String(10), nullable=False),  # lead | partner
)


checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(48), nullable=False, unique=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("due", Date, nullable=False),
    Column("level", Integer, nullable=False),
    # The moment of the next ladder step not yet done (NULL when the ladder
    # has nothing more to do): the sweep reads only rows whose time has come.
    Column("next_step_at", UTCDateTime),
    Column("steps_done", JSON, nullable=False),
    Column("figures", JSON),
    Column("attachment_sha256", String(64)),
    Column("attachment_name", Text),
    Column("submitted_at", UTCDateTime),
    # When the checkpoint was created: a step that fell due before then is done
    # at the first sweep without being called late (migration 0002).
    Column("scheduled_at", UTCDateTime),
    UniqueConstraint("case_id", "n"),
    # the sweep's claim order (migration 0002)
    Index("ix_checkpoints_next_step", "next_step_at", "id"),
    # the returns inbox and every count by state (migration 0004)
    Index("ix_checkpoints_state_level_due", "state", "level", "due"),
)


# The annual reviews of an award (DESIGN.md section 9): one row a review, created a year
# ahead; the sweep walks its steps (states.review.REVIEW_STEPS) as it walks a return's
# ladder, by `next_step_at` (NULL when nothing more is due). The case's history rows
# (`review_due`, `review_overdue`, `review`) are the record; this row is where it stands.
reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(40), nullable=False, unique=True),  # TCA-2013-0001/R1
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("due", Date, nullable=False),
    Column("next_step_at", UTCDateTime),
    Column("steps_done", JSON, nullable=False),
    Column("opened_at", UTCDateTime),  # from then on it can be recorded
    Column("overdue_at", UTCDateTime),  # the SRO was told
    Column("ended_at", UTCDateTime),  # the case stopped being monitored first
    Column("decision", String(20)),  # continue | amend | stop
    Column("reason", Text),
    Column("recorded_by", String(80)),
    Column("recorded_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "n"),
    Index("ix_reviews_next_step", "next_step_at", "id"),
    Index("ix_reviews_due", "due"),
)


history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("checkpoint", String(8)),
    Column("from_state", String(40)),
    Column("to_state", String(40), nullable=False),
    Column("trigger", String(40), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("role", String(20), nullable=False),
    Column("reason", Text),
    Column("at", UTCDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The payment a row moves (`P2`), as `checkpoint` names a return (migration 1901);
    # sealed only when set, so rows without it keep their hashes.
    Column("payment", String(8)),
    UniqueConstraint("case_id", "seq"),
    Index("ix_history_at", "at"),
)


# Every version of a case's application document (DESIGN section 10): version 1
# is what was opened, each amendment the next. Append-only (migration 2101):
# the case row holds the current document, these rows every one it ever held.
application_versions = Table(
    "application_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    Column("sha256", String(64), nullable=False),  # of the document's canonical JSON
    Column("changed", JSON, nullable=False),  # field names changed from version - 1
    Column("actor", String(80), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "version"),
)


# The fund ledger: an offer reserves, a decline or termination releases.
#
# Rows, never a counter, so the committed total can always be explained.
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("category", String(40)),
    Column("entry", String(10), nullable=False),  # reserve | release
    Column("amount_pence", BigInteger, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # The programme's committed total (reserved minus released) once this row
    # is written: the latest row gives the total without adding the ledger up.
    Column("balance_pence", BigInteger, nullable=False),
    Index("ix_ledger_programme", "programme", "category"),
    Index("ix_ledger_programme_id", "programme", "id"),  # the latest row
    Index("ix_ledger_case", "case_id"),
)


# A payment of an award: one tranche of its schedule, from the moment its event
# happened (states/payment.py). Its moves are rows of its case's chain.
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(48), nullable=False, unique=True),  # TCA-2013-0001/P1
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False),
    Column("n", Integer, nullable=False),  # P<n>
    Column("tranche", Integer, nullable=False),  # its place in the schedule, from 1
    Column("event", String(20), nullable=False),  # accepted | Q2 | last_return
    Column("state", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("amount_pence", BigInteger, nullable=False),
    Column("due_on", Date, nullable=False),  # the London day its event happened
    Column("approved_by", String(80)),
    Column("approved_at", UTCDateTime),
    Column("paid_by", String(80)),
    Column("paid_at", UTCDateTime),
    Column("reference", Text),  # the remittance reference
    # Held because its case was suspended (reinstatement releases these only).
    Column("held_with_case", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "n"),
    UniqueConstraint("case_id", "tranche"),
    # The programme's figures add amounts up by state from this index alone.
    Index("ix_payments_programme_state", "programme", "state", "amount_pence"),
    Index("ix_payments_state", "state", "id"),
)


# What each programme has paid, kept as it is paid (migration 1902): the programme's
# figures read one row instead of adding up every payment. Moved only by a `pay`, after
# its case row is held, so on PostgreSQL the order is always case, then this row.
paid_totals = Table(
    "paid_totals",
    metadata,
    Column("programme", String(40), ForeignKey("programmes.code"), primary_key=True),
    Column("paid_pence", BigInteger, nullable=False),
    Column("payments", Integer, nullable=False),
)


# What a terminated award's council owes back: paid minus the eligible spend.
recoveries = Table(
    "recoveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, unique=True),
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False),
    Column("paid_pence", BigInteger, nullable=False),
    Column("eligible_pence", BigInteger, nullable=False),
    Column("amount_pence", BigInteger, nullable=False),  # to recover, never below 0
    Column("actor", String(80), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_recoveries_programme", "programme", "amount_pence"),
)


# An assessor's conflict-of-interest declaration on one case.
declarations = Table(
    "declarations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("person", String(80), ForeignKey("people.name"), nullable=False),
    Column("conflict", Boolean, nullable=False),
    Column("reason", Text),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "person"),
)


# One assessor's scores for a bid, or a moderator's agreed score (`agreed`).
scores = Table(
    "scores",
    metadata,
    # One live score per assessor (and one live agreed score per moderator);
    # rows set aside by a late conflict stay beside them (migration 0009).
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("assessor", String(80), ForeignKey("people.name"), nullable=False),
    Column("innovation", Integer, nullable=False),
    Column("costs", Integer, nullable=False),
    Column("savings", Integer, nullable=False),
    Column("comment", Text),
    Column("agreed", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # When a conflict of interest declared after scoring set this score aside.
    Column("set_aside_at", UTCDateTime),
    Index(
        "uq_scores_live",
        "case_id",
        "assessor",
        "agreed",
        unique=True,
        sqlite_where=text("set_aside_at IS NULL"),
    ),
)


# A version of a case's grant agreement (DESIGN section 8): `offer` draws up
# version 1, each approved variation the next. The PDF's bytes are kept here,
# in the database, so every backup and restore carries them with the history
# rows that name their SHA-256; the database refuses to change or remove a
# version (migration 1911).
agreements = Table(
    "agreements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("amount_pence", BigInteger, nullable=False),
    Column("end_on", Date),  # NULL: ends when its last return is accepted
    Column("variation", String(8)),  # V1: the variation that made this version
    Column("made_by", String(80), nullable=False),
    Column("made_at", UTCDateTime, nullable=False),
    # The same text as data, for the web page (migration 1912; NULL before it).
    Column("terms", JSON),
    UniqueConstraint("case_id", "version"),
)


# A proposed change to an award (DESIGN section 8): `V1`, `V2`… of a case.
# Its moves are rows of the case's history chain carrying `variation`.
variations = Table(
    "variations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(48), nullable=False, unique=True),  # TCA-2013-0001/V1
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("amount_pence", BigInteger),  # the new total; NULL leaves the amount
    Column("previous_pence", BigInteger, nullable=False),  # the award when proposed
    Column("end_on", Date),  # the new end date; NULL leaves it
    Column("reason", Text, nullable=False),
    Column("proposed_by", String(80), nullable=False),
    Column("proposed_at", UTCDateTime, nullable=False),
    Column("decided_by", String(80)),
    Column("decided_at", UTCDateTime),
    Column("decision_reason", Text),
    Column("agreement_version", Integer),  # the version its approval drew up
    UniqueConstraint("case_id", "n"),
    Index("ix_variations_state", "state"),
)


def on_postgresql() -> None:
    """Declare the PostgreSQL side of the tables (db.make_engine calls it for PostgreSQL).

    A `postgresql_*` option makes SQLAlchemy import its whole PostgreSQL
    dialect (about 35 ms, asyncpg's module included) the moment the table is
    declared; added here, a SQLite command never pays for it. The database
    itself has the index as migration 0009 made it; this copy is what
    `alembic check` and the schema comparison read.
    """
    live = next(i for i in scores.indexes if i.name == "uq_scores_live")
    live.dialect_kwargs["postgresql_where"] = text("set_aside_at IS NULL")


# A seal (DESIGN section 11): a signed statement of the history's Merkle root.
# `statement` is the exact JSON text that was signed; the database refuses to
# change or remove a seal (migration 0011).
seals = Table(
    "seals",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("statement", Text, nullable=False),
    Column("signature", String(100), nullable=False),  # base64
    # The previous key's signature of the same statement, on a new key's first seal.
    Column("endorsement", String(100)),
)


# A public key `audit keygen` made, recorded when it was made (never the private key).
audit_keys = Table(
    "audit_keys",
    metadata,
    Column("public_key", String(64), primary_key=True),  # base64, raw 32 bytes
    Column("created_at", UTCDateTime, nullable=False),
)


# What administrators changed (DESIGN section 10): one hash-chained row a change,
# with what it was before and after; the database refuses to change or remove
# a row (migration 2102). `id` is given, not generated: the chain's order.
admin_log = Table(
    "admin_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("role", String(20), nullable=False),  # admin (the web) | operator (the command line)
    Column("action", String(40), nullable=False),  # org_update, user_disable, programme_sro...
    Column("target", String(80), nullable=False),  # the organisation, person or programme
    Column("before", JSON),
    Column("after", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_admin_log_target", "action", "target"),
)


# Small facts about the installation: the last sweep, definition versions.
meta = Table(
    "meta",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("value", JSON, nullable=False),
)


# Personal API tokens, kept hashed (workflow/services/tokens.py).
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person", String(80), ForeignKey("people.name"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)


# Every web sign-in attempt, so repeated failures slow and then lock a name
# (workflow/web/lockout.py).
sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("outcome", String(10), nullable=False),  # ok | wrong | locked | signout
    Column("remote", String(64)),
    Index("ix_sign_in_attempts_name_at", "name", "at"),
)


# The API's Idempotency-Key records: a POST sent twice does its work once
# (workflow/api/idempotency.py).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person", String(80), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(10), nullable=False),  # pending | done
    Column("status", Integer),
    Column("body", Text),
    Column("headers", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    UniqueConstraint("person", "key"),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)


__all__ = [
    "metadata",
    "programmes",
    "organisations",
    "people",
    "cases",
    "case_orgs",
    "checkpoints",
    "history",
    "application_versions",
    "ledger",
    "payments",
    "paid_totals",
    "recoveries",
    "declarations",
    "scores",
    "seals",
    "audit_keys",
    "admin_log",
    "meta",
    "outbox",
    "api_tokens",
    "sign_in_attempts",
    "idempotency_keys",
    "agreements",
    "variations",
    "reviews",
]
