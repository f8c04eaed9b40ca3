"""Sessions in a signed cookie: who is signed in, their CSRF token, a one-off notice.

The cookie is signed (itsdangerous), HttpOnly, SameSite=Lax, and Secure over
TLS. It carries the moment of the last request, so an idle session ends; the
moment of sign-in, so no session lasts past `longest_session`; and a short
fingerprint of the person's password hash, so changing a password ends every
session signed in with the old one. Times come from `workflow.clock`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow import clock
from workflow.web.settings import WebSettings

COOKIE = "casework_session"
SCOPE_KEY = "casework.session"
# Refresh the cookie's "last seen" at most this often: idle time is measured
# to the minute, and most responses then carry no Set-Cookie at all.
_REFRESH_SECONDS = 60


def new_token() -> str:
    return secrets.token_urlsafe(32)


def fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@dataclass
class Session:
    name: str | None = None
    csrf: str = field(default_factory=new_token)
    signed_in_at: float = 0.0
    seen: float = 0.0
    password: str = ""  # fingerprint of the password hash at sign-in
    notice: str | None = None  # shown once on the next page ("You have signed out.")
    changed: bool = False  # the cookie must be (re)written with this response
    known: bool = False  # the request carried a valid cookie

    def token(self) -> str:
        """The CSRF token for a form; a visitor's first form gets them a cookie."""
        if not self.known:
            self.changed = True
        return self.csrf

    def sign_in(self, name: str, password_hash: str | None) -> None:
        """Start a signed-in session: a new CSRF token, so no token seen before sign-in works after."""
        now = clock.now().timestamp()
        self.name, self.csrf, self.signed_in_at, self.seen = name, new_token(), now, now
        self.password, self.changed = fingerprint(password_hash), True

    def sign_out(self, notice: str | None = None) -> None:
        self.name, self.csrf, self.signed_in_at, self.password = None, new_token(), 0.0, ""
        self.notice, self.changed = notice, True

    def flash(self, notice: str) -> None:
        self.notice, self.changed = notice, True

    def take_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        if notice is not None:
            self.changed = True
        return notice


class Codec:
    def __init__(self, secret: str, settings: WebSettings):
        self._signer = URLSafeSerializer(secret, salt="casework.session")
        self.settings = settings

    def dumps(self, s: Session) -> str:
        body: dict[str, Any] = {"c": s.csrf}
        if s.name:
            body.update(n=s.name, i=round(s.signed_in_at, 6), s=int(s.seen), p=s.password)
        if s.notice:
            body["f"] = s.notice
        return self._signer.dumps(body)

    def loads(self, text: str | None) -> Session:
        """The session the cookie holds; a fresh one when it is missing, forged or expired."""
        if not text:
            return Session()
        try:
            body = self._signer.loads(text)
        except (BadSignature, ValueError, json.JSONDecodeError):
            return Session(changed=True)
        if not isinstance(body, dict) or not isinstance(body.get("c"), str):
            return Session(changed=True)
        s = Session(
            csrf=body["c"],
            notice=body.get("f") if isinstance(body.get("f"), str) else None,
            known=True,
        )
        name = body.get("n")
        if isinstance(name, str) and name:
            self._resume(s, body, name)
        return s

    def _resume(self, s: Session, body: dict, name: str) -> None:
        now = clock.now().timestamp()
        signed_in_at, seen = float(body.get("i", 0)), float(body.get("s", 0))
        if now - seen > self.settings.idle.total_seconds():
            minutes = int(self.settings.idle.total_seconds() // 60)
            s.sign_out(
                f"You were signed out after {minutes} minutes without activity. "
                f"Sign in again to carry on."
            )
        elif now - signed_in_at > self.settings.longest_session.total_seconds():
            hours = int(self.settings.longest_session.total_seconds() // 3600)
            s.sign_out(
                f"You were signed out because sessions last at most {hours} hours. "
                f"Sign in again to carry on."
            )
        else:
            s.name, s.signed_in_at, s.seen = name, signed_in_at, seen
            s.password = str(body.get("p", ""))
            if now - seen >= _REFRESH_SECONDS:
                s.seen, s.changed = now, True


class SessionMiddleware:
    """Reads the session before the app runs; writes the cookie back when it changed."""

    def __init__(self, app: ASGIApp, codec: Codec):
        self.app, self.codec = app, codec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = _cookie(scope)
        session = self.codec.loads(raw)
        scope[SCOPE_KEY] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.changed:
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", self._cookie_header(scope, session))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie_header(self, scope: Scope, session: Session) -> str:
        secure = self.codec.settings.secure_cookies or scope.get("scheme") == "https"
        value = self.codec.dumps(session)
        return f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")


def _cookie(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(COOKIE)
    return None
