"""Rendering, the outbox and transports. Never imports workflow/.

The engine renders a kind with `render`, queues it with `enqueue` in the same
transaction as the change that caused it, and a worker calls `deliver`.

Each name below is imported from its module when it is first asked for, so
that importing one module of the package (the outbox's table, say) does not
bring in Jinja2 (notifications.templating) or aiosmtplib (notifications.smtp).
"""

from __future__ import annotations

import importlib
from typing import Any

# Bound here, before anything can import the submodule of the same name: the
# package's `render` is the function, not the module.
from notifications.render import Rendered, longdate, render

_HOME = {
    "notifications.kinds": ("KINDS", "PARTS"),
    "notifications.message": ("HeaderRefused", "build_message", "message_id_for", "parse_address"),
    "notifications.outbox": (
        "STATES",
        "Claimed",
        "DeliveryReport",
        "as_email",
        "claim_batch",
        "counts",
        "deliver",
        "enqueue",
        "exists",
        "get_message",
        "is_due",
        "list_messages",
        "record_outcomes",
        "retry",
    ),
    "notifications.transports": (
        "FileTransport",
        "PermFailure",
        "Record",
        "SendResult",
        "Sent",
        "TempFailure",
        "Transport",
        "send_all",
        "sender_from_env",
        "transport_from_env",
    ),
    "notifications.smtp": ("SmtpTransport",),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = ["Rendered", "longdate", "render"] + list(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'notifications' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next use is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
