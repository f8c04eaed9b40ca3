"""The outbox: messages promised by a committed change, delivered later.

Rows are written in the same transaction as the state change that caused them
(the caller passes its connection), so a message is never sent for a change
that rolled back, and never lost for one that committed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from notifications.sqltypes import UTCDateTime


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(60), nullable=False))
    case_ref: Optional[str] = Field(default=None, sa_column=Column(String(40), index=True))
    checkpoint_ref: Optional[str] = Field(default=None, sa_column=Column(String(48)))
    state: str = Field(default="queued", sa_column=Column(String(10), nullable=False))
    to_addrs: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cc_addrs: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    claimed_by: Optional[str] = Field(default=None, sa_column=Column(String(80)))
    claim_expires: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text))
    smtp_response: Optional[str] = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime))
