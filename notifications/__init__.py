"""Rendering, the outbox and transports. Never imports workflow/.

The engine renders a kind with `render`, queues it with `enqueue` in the same
transaction as the change that caused it, and a worker calls `deliver`.
"""
from notifications.kinds import KINDS, PARTS
from notifications.message import HeaderRefused, build_message, message_id_for, parse_address
from notifications.outbox import (
    STATES, Claimed, DeliveryReport, OutboxMessage, as_email, claim_batch, counts, deliver,
    enqueue, exists, get_message, is_due, list_messages, record_outcomes, retry,
)
from notifications.render import Rendered, longdate, render
from notifications.transports import (
    FileTransport, PermFailure, Record, SendResult, Sent, SmtpTransport, TempFailure, Transport,
    send_all, sender_from_env, transport_from_env,
)

__all__ = [
    "KINDS", "PARTS",
    "HeaderRefused", "build_message", "message_id_for", "parse_address",
    "STATES", "Claimed", "DeliveryReport", "OutboxMessage", "as_email", "claim_batch", "counts",
    "deliver", "enqueue", "exists", "get_message", "is_due", "list_messages", "record_outcomes",
    "retry",
    "Rendered", "longdate", "render",
    "FileTransport", "PermFailure", "Record", "SendResult", "Sent", "SmtpTransport", "TempFailure",
    "Transport", "send_all", "sender_from_env", "transport_from_env",
]
