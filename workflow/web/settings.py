"""The web app's settings: defaults from DESIGN.md section 6, a few overridable by environment.

CASEWORK_SECRET_KEY   signs session cookies; when unset, a random key is made
                      once and kept in the database (`meta`), so every web
                      node on one database shares it and restarts keep people
                      signed in.
CASEWORK_SESSION_IDLE_MINUTES   sign people out after this long without a request (30).
CASEWORK_SECURE_COOKIES         `1` to mark cookies Secure even when a proxy
                      terminates TLS and the app sees plain HTTP (they are
                      always Secure when the request itself is HTTPS, or when
                      CASEWORK_BASE_URL starts with https://).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Mapping

from workflow.services import attachments
from workflow.web.lockout import Policy


@dataclass(frozen=True)
class WebSettings:
    secret_key: str | None = None
    idle: timedelta = timedelta(minutes=30)
    longest_session: timedelta = timedelta(hours=12)
    secure_cookies: bool = False
    lockout: Policy = field(default_factory=Policy)
    # A body this much larger than the attachment limit is refused before it
    # is read; anything smaller reaches the service, which names the limit.
    max_body_bytes: int = attachments.MAX_BYTES + 1024 * 1024
    page_size: int = 50
    inbox_rows: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "WebSettings":
        env = os.environ if env is None else env
        values: dict = {}
        if env.get("CASEWORK_SECRET_KEY", "").strip():
            values["secret_key"] = env["CASEWORK_SECRET_KEY"].strip()
        idle = env.get("CASEWORK_SESSION_IDLE_MINUTES", "").strip()
        if idle:
            if not idle.isdigit() or int(idle) < 1:
                raise ValueError(
                    f"CASEWORK_SESSION_IDLE_MINUTES must be a whole number of "
                    f"minutes, 1 or more, not {idle!r}"
                )
            values["idle"] = timedelta(minutes=int(idle))
        base = env.get("CASEWORK_BASE_URL", "")
        values["secure_cookies"] = env.get(
            "CASEWORK_SECURE_COOKIES", ""
        ) == "1" or base.lower().startswith("https://")
        values.update(overrides)
        return cls(**values)
