"""The outbox's table, declared apart from what fills and empties it.

`workflow/storage/tables.py` declares every table on the one MetaData and
imports this one from here: a command that only reads cases then loads no
part of the mail's machinery (messages, transports, rendering).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text

from notifications.sqltypes import UTCDateTime, metadata

# The outbox: one row a message, written in the transaction of the change
# that caused it, and sent later by `deliver`.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(60), nullable=False),
    Column("case_ref", String(40), index=True),
    Column("checkpoint_ref", String(48)),
    Column("state", String(10), nullable=False),
    Column("to_addrs", JSON, nullable=False),
    Column("cc_addrs", JSON, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(80)),
    Column("claim_expires", UTCDateTime),
    Column("last_error", Text),
    Column("smtp_response", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    # GOV.UK Notify: its notifications for the row, `[{"id", "to", "status"}]`
    # (one a recipient accepted, kept while the others are retried), and where the row's delivery receipts stand:
    # "pending" until every one is final, then "delivered" (or NULL: not Notify).
    Column("notify_ids", JSON),
    Column("receipt", String(20)),
    # What a kind's own Notify template is filled in with, `{"case_ref": …}`,
    # computed when the row is queued (notify_templates.personalisation_for;
    # NULL on rows queued before it was kept: they go by the generic template).
    Column("personalisation", JSON),
    Index("ix_outbox_due", "state", "next_attempt_at"),
    Index("ix_outbox_receipt", "receipt"),
)
