"""The tables of the case engine (SQLModel on SQLAlchemy).

Services read and write them through SQLAlchemy Core (`Model.__table__`), so
the hot path builds no ORM objects; the classes are the one place the schema
is declared. Money is whole pence; times are UTC.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (JSON, Boolean, Column, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, BigInteger, text)
from sqlmodel import Field, SQLModel

from notifications.outbox import OutboxMessage  # noqa: F401  (same metadata)
from notifications.sqltypes import UTCDateTime


class Programme(SQLModel, table=True):
    __tablename__ = "programmes"
    code: str = Field(sa_column=Column(String(40), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(10), nullable=False))       # bids | areas
    fund_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))           # the TOML it came from
    last_number: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    loaded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"
    code: str = Field(sa_column=Column(String(40), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str = Field(sa_column=Column(String(254), nullable=False))
    escalation_email: Optional[str] = Field(default=None, sa_column=Column(String(254)))
    kind: str = Field(default="council", sa_column=Column(String(20), nullable=False))
    esg_allocation_pence: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    org_id: Optional[str] = Field(default=None, sa_column=Column(String(80)))


class Person(SQLModel, table=True):
    __tablename__ = "people"
    name: str = Field(sa_column=Column(String(80), primary_key=True))
    roles: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    email: Optional[str] = Field(default=None, sa_column=Column(String(254)))
    org: Optional[str] = Field(default=None, sa_column=Column(
        String(40), ForeignKey("organisations.code")))
    password_hash: Optional[str] = Field(default=None, sa_column=Column(Text))


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_programme_state", "programme", "state"),
                      Index("ix_cases_kind_state", "kind", "state"),
                      Index("ix_cases_lead", "lead"))
    id: Optional[int] = Field(default=None, primary_key=True)
    ref: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False))        # bid | area
    programme: str = Field(sa_column=Column(String(40), ForeignKey("programmes.code"),
                                            nullable=False))
    state: str = Field(sa_column=Column(String(40), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    definition_version: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(Text, nullable=False))
    category: Optional[str] = Field(default=None, sa_column=Column(String(40)))
    lead: str = Field(sa_column=Column(String(40), ForeignKey("organisations.code"),
                                       nullable=False))
    partners: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    amount_pence: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    application: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    caseworker: Optional[str] = Field(default=None, sa_column=Column(
        String(80), ForeignKey("people.name")))
    at_risk: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    contribution_pence: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    # The head of the history chain: the next row's seq and prev_hash. Kept
    # here so appending takes the case row's lock instead of racing on seq.
    last_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_hash: str = Field(default="", sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class CaseOrg(SQLModel, table=True):
    """An organisation a case involves: its lead, or one of its partners."""

    __tablename__ = "case_orgs"
    org: str = Field(sa_column=Column(String(40), primary_key=True))
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), primary_key=True))
    role: str = Field(sa_column=Column(String(10), nullable=False))     # lead | partner


class Checkpoint(SQLModel, table=True):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("case_id", "n"),
                      # the sweep's claim order (migration 0002)
                      Index("ix_checkpoints_next_step", "next_step_at", "id"),
                      # the returns inbox and every count by state (migration 0004)
                      Index("ix_checkpoints_state_level_due", "state", "level", "due"))
    id: Optional[int] = Field(default=None, primary_key=True)
    ref: str = Field(sa_column=Column(String(48), nullable=False, unique=True))
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    n: int = Field(sa_column=Column(Integer, nullable=False))
    state: str = Field(sa_column=Column(String(20), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    due: date = Field(sa_column=Column(Date, nullable=False))
    level: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # The moment of the next ladder step not yet done (NULL when the ladder
    # has nothing more to do): the sweep reads only rows whose time has come.
    next_step_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime))
    steps_done: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    figures: Optional[dict] = Field(default=None, sa_column=Column(JSON))
    attachment_sha256: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    attachment_name: Optional[str] = Field(default=None, sa_column=Column(Text))
    submitted_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime))
    # When the checkpoint was created: a step that fell due before then is done
    # at the first sweep without being called late (migration 0002).
    scheduled_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime))


class History(SQLModel, table=True):
    __tablename__ = "history"
    __table_args__ = (UniqueConstraint("case_id", "seq"),
                      Index("ix_history_at", "at"))
    id: Optional[int] = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    checkpoint: Optional[str] = Field(default=None, sa_column=Column(String(8)))
    from_state: Optional[str] = Field(default=None, sa_column=Column(String(40)))
    to_state: str = Field(sa_column=Column(String(40), nullable=False))
    trigger: str = Field(sa_column=Column(String(40), nullable=False))
    actor: str = Field(sa_column=Column(String(80), nullable=False))
    role: str = Field(sa_column=Column(String(20), nullable=False))
    reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


class LedgerEntry(SQLModel, table=True):
    """The fund ledger: an offer reserves, a decline or termination releases.

    Rows, never a counter, so the committed total can always be explained.
    """

    __tablename__ = "ledger"
    __table_args__ = (Index("ix_ledger_programme", "programme", "category"),
                      Index("ix_ledger_programme_id", "programme", "id"),   # the latest row
                      Index("ix_ledger_case", "case_id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    programme: str = Field(sa_column=Column(String(40), ForeignKey("programmes.code"),
                                            nullable=False))
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    category: Optional[str] = Field(default=None, sa_column=Column(String(40)))
    entry: str = Field(sa_column=Column(String(10), nullable=False))     # reserve | release
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The programme's committed total (reserved minus released) once this row
    # is written: the latest row gives the total without adding the ledger up.
    balance_pence: int = Field(sa_column=Column(BigInteger, nullable=False))


class Declaration(SQLModel, table=True):
    """An assessor's conflict-of-interest declaration on one case."""

    __tablename__ = "declarations"
    __table_args__ = (UniqueConstraint("case_id", "person"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    person: str = Field(sa_column=Column(String(80), ForeignKey("people.name"), nullable=False))
    conflict: bool = Field(sa_column=Column(Boolean, nullable=False))
    reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ScoreRow(SQLModel, table=True):
    """One assessor's scores for a bid, or a moderator's agreed score (`agreed`)."""

    __tablename__ = "scores"
    # One live score per assessor (and one live agreed score per moderator);
    # rows set aside by a late conflict stay beside them (migration 0009).
    __table_args__ = (Index("uq_scores_live", "case_id", "assessor", "agreed", unique=True,
                            sqlite_where=text("set_aside_at IS NULL"),
                            postgresql_where=text("set_aside_at IS NULL")),)
    id: Optional[int] = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    assessor: str = Field(sa_column=Column(String(80), ForeignKey("people.name"), nullable=False))
    innovation: int = Field(sa_column=Column(Integer, nullable=False))
    costs: int = Field(sa_column=Column(Integer, nullable=False))
    savings: int = Field(sa_column=Column(Integer, nullable=False))
    comment: Optional[str] = Field(default=None, sa_column=Column(Text))
    agreed: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # When a conflict of interest declared after scoring set this score aside.
    set_aside_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime))


class SealRow(SQLModel, table=True):
    """A seal (DESIGN section 11): a signed statement of the history's Merkle root.

    `statement` is the exact JSON text that was signed; the database refuses to
    change or remove a seal (migration 0011).
    """

    __tablename__ = "seals"
    number: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    statement: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(String(100), nullable=False))     # base64
    # The previous key's signature of the same statement, on a new key's first seal.
    endorsement: Optional[str] = Field(default=None, sa_column=Column(String(100)))


class AuditKey(SQLModel, table=True):
    """A public key `audit keygen` made, recorded when it was made (never the private key)."""

    __tablename__ = "audit_keys"
    public_key: str = Field(sa_column=Column(String(64), primary_key=True))   # base64, raw 32 bytes
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Meta(SQLModel, table=True):
    """Small facts about the installation: the last sweep, definition versions."""

    __tablename__ = "meta"
    key: str = Field(sa_column=Column(String(80), primary_key=True))
    value: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


programmes = Programme.__table__
organisations = Organisation.__table__
people = Person.__table__
cases = Case.__table__
checkpoints = Checkpoint.__table__
case_orgs = CaseOrg.__table__
history = History.__table__
meta = Meta.__table__
seals = SealRow.__table__
audit_keys = AuditKey.__table__
ledger = LedgerEntry.__table__
declarations = Declaration.__table__
scores = ScoreRow.__table__
outbox = OutboxMessage.__table__
