"""A GOV.UK Notify stand-in on loopback (an ASGI app) for `casework demo --mail notify`,
the tests and the benchmark.

    stub = NotifyStub().start()              # uvicorn in a thread, 127.0.0.1, a free port
    stub.api_key, stub.base_url              # what CASEWORK_NOTIFY_API_KEY / _BASE_URL take
    stub.generic_template                    # the id of a ((subject)) / ((body)) template
    stub.add_template(subject, body)         # another template; returns its id
    stub.fail_next(2, status=500)            # the next two sends answer 500
    stub.fail_for("cx@council.gov.uk")       # the next send to that address answers 500
    stub.rate_limit_for(10)                  # 429 RateLimitError for ten seconds
    stub.refuse("ceo@council.gov.uk")        # 400, as for a team key sending outside the team
    stub.revoke_key()                        # 403, as for a revoked API key
    stub.will_end_as("gone@x.gov.uk", "permanent-failure")   # its delivery receipt
    stub.wait_for(3); stub.notifications     # what was sent, in order
    stub.stop(); stub.start()                # down for a while, same port

What it checks, as Notify does (its documentation, its API's schemas and its
errors): the bearer JWT (HS256, signed with the key's secret, `iss` the
service id, `iat` within 30 seconds), the request body (required fields, types,
no field Notify does not document), the template exists and every
((placeholder)) in it has personalisation. Errors come back in Notify's shape,
`{"status_code": N, "errors": [{"error": …, "message": …}]}`.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import jsonschema
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from demo.mailcatch import free_port

TEAM_ONLY = "Can't send to this recipient using a team-only API key"
STATUSES = (
    "created",
    "sending",
    "delivered",
    "permanent-failure",
    "temporary-failure",
    "technical-failure",
)
_UUID = {
    "type": "string",
    "pattern": "^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$",
}
# POST /v2/notifications/email as Notify documents it ("Send an email", request body).
POST_EMAIL = {
    "type": "object",
    "properties": {
        "email_address": {"type": "string", "minLength": 3},
        "template_id": _UUID,
        "personalisation": {"type": "object"},
        "reference": {"type": "string"},
        "email_reply_to_id": _UUID,
        "one_click_unsubscribe_url": {"type": "string", "pattern": "^https://"},
        "scheduled_for": {"type": ["string", "null"]},
    },
    "required": ["email_address", "template_id"],
    "additionalProperties": False,
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PLACEHOLDER = re.compile(r"\(\(([^()?]+?)(\?\?[^()]*)?\)\)")


def _errors(status: int, *errors: tuple[str, str]) -> JSONResponse:
    return JSONResponse(
        {"status_code": status, "errors": [{"error": e, "message": m} for e, m in errors]}, status
    )


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Notification:
    id: str
    email_address: str
    template_id: str
    personalisation: dict
    reference: str | None
    subject: str
    body: str
    status: str
    created_at: str
    sent_at_monotonic: float


@dataclass
class _Trouble:
    fail_next: list[int] = field(default_factory=list)  # statuses for the next sends
    fail_for: dict[str, list[int]] = field(
        default_factory=dict
    )  # address -> statuses for its next sends
    rate_limited_until: float = 0.0
    refused: dict[str, str] = field(default_factory=dict)  # address -> 400 message
    revoked: bool = False
    ends_as: dict[str, str] = field(default_factory=dict)  # address -> receipt status


def placeholders(text: str) -> list[str]:
    """The ((names)) a Notify template asks for, in order, each once."""
    names: list[str] = []
    for name, _optional in _PLACEHOLDER.findall(text):
        if name.strip() not in names:
            names.append(name.strip())
    return names


def fill(text: str, values: dict) -> str:
    """Notify's substitution: ((name)) takes the value; ((name??text)) shows text when it is yes/true."""

    def one(match: re.Match) -> str:
        name, optional = match.group(1).strip(), match.group(2)
        value = values.get(name)
        if optional:
            return optional[2:] if str(value).lower() in ("yes", "true") else ""
        return str(value)

    return _PLACEHOLDER.sub(one, text)


class NotifyStub:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        default_status: str = "delivered",
        keep: bool = True,
        service_id: str | None = None,
        secret: str | None = None,
        generic_template: str | None = None,
    ):
        self.host = host
        self.port = port or free_port(host)
        self.service_id, self.secret = service_id or str(uuid.uuid4()), secret or str(uuid.uuid4())
        self.api_key = f"casework_test-{self.service_id}-{self.secret}"
        self.default_status = default_status
        self.keep = keep  # False: count sends only (the benchmark)
        self.templates: dict[str, tuple[str, str]] = {}
        self.notifications: list[Notification] = []
        self.by_id: dict[str, Notification] = {}
        self.accepted = 0
        self.requests = 0
        self.send_times: list[float] = []  # monotonic time of every accepted send
        self._trouble = _Trouble()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.generic_template = self.add_template("((subject))", "((body))", generic_template)
        self.app = Starlette(
            routes=[
                Route("/v2/notifications/email", self._post_email, methods=["POST"]),
                Route("/v2/notifications/{id}", self._get_notification, methods=["GET"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- life cycle -------------------------------------------------------
    def start(self) -> "NotifyStub":
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        )
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="notify-stub", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the Notify stub did not start")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> "NotifyStub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- behaviour --------------------------------------------------------
    def add_template(self, subject: str, body: str, id: str | None = None) -> str:
        id = id or str(uuid.uuid4())
        with self._lock:
            self.templates[id] = (subject, body)
        return id

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        with self._lock:
            self._trouble.fail_next.extend([status] * count)

    def fail_for(self, address: str, count: int = 1, *, status: int = 500) -> None:
        """The next `count` sends to `address` answer `status` (the others go through)."""
        with self._lock:
            self._trouble.fail_for.setdefault(address.lower(), []).extend([status] * count)

    def rate_limit_for(self, seconds: float) -> None:
        with self._lock:
            self._trouble.rate_limited_until = time.monotonic() + seconds

    def refuse(self, address: str, message: str = TEAM_ONLY) -> None:
        with self._lock:
            self._trouble.refused[address.lower()] = message

    def revoke_key(self) -> None:
        with self._lock:
            self._trouble.revoked = True

    def will_end_as(self, address: str, status: str) -> None:
        """The receipt status of what is (and will be) sent to `address`."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        with self._lock:
            self._trouble.ends_as[address.lower()] = status
            for n in self.notifications:
                if n.email_address.lower() == address.lower():
                    n.status = status

    def reset(self) -> None:
        with self._lock:
            self._trouble = _Trouble()
            self.notifications.clear()
            self.by_id.clear()
            self.accepted = 0

    # --- reading what arrived -------------------------------------------
    def wait_for(self, count: int, timeout: float = 5.0) -> list[Notification]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self.accepted < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} notifications, {self.accepted} arrived")
                self._arrived.wait(left)
            return list(self.notifications)

    def to(self, address: str) -> list[Notification]:
        return [n for n in self.notifications if n.email_address.lower() == address.lower()]

    def receipt(self, n: Notification) -> dict:
        """The body Notify posts to a callback URL for `n` (its "Delivery receipts" table)."""
        return {
            "id": n.id,
            "reference": n.reference,
            "to": n.email_address,
            "status": n.status,
            "created_at": n.created_at,
            "completed_at": _now(),
            "sent_at": n.created_at,
            "notification_type": "email",
            "template_id": n.template_id,
            "template_version": 1,
        }

    # --- the API ------------------------------------------------------------
    def _auth(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization")
        if not header:
            return _errors(
                401, ("AuthError", "Unauthorized: authentication token must be provided")
            )
        if header[:7].title() != "Bearer ":
            return _errors(
                401, ("AuthError", "Unauthorized: authentication bearer scheme must be used")
            )
        token = header[7:]
        try:
            claims = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
        except jwt.PyJWTError:
            return _errors(403, ("AuthError", "Invalid token: signature, api token is not valid"))
        if "iss" not in claims:
            return _errors(403, ("AuthError", "Invalid token: iss field not provided"))
        if claims["iss"] != self.service_id:
            return _errors(403, ("AuthError", "Invalid token: service not found"))
        try:
            claims = jwt.decode(token, key=self.secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return _errors(403, ("AuthError", "Invalid token: signature, api token is not valid"))
        if "iat" not in claims:
            return _errors(403, ("AuthError", "Invalid token: iat field not provided"))
        if abs(time.time() - int(claims["iat"])) > 30:
            return _errors(
                403, ("AuthError", "Error: Your system clock must be accurate to within 30 seconds")
            )
        if self._trouble.revoked:
            return _errors(403, ("AuthError", "Invalid token: API key revoked"))
        return None

    async def _post_email(self, request: Request) -> JSONResponse:
        with self._lock:
            self.requests += 1
        refused = self._auth(request)
        if refused is not None:
            return refused
        with self._lock:
            if time.monotonic() < self._trouble.rate_limited_until:
                return _errors(
                    429,
                    (
                        "RateLimitError",
                        "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
                    ),
                )
            if self._trouble.fail_next:
                status = self._trouble.fail_next.pop(0)
                return _errors(status, ("Exception", "Internal server error"))
        try:
            body = await request.json()
        except ValueError:
            return _errors(400, ("ValidationError", "Invalid JSON supplied in POST data"))
        problems = sorted(jsonschema.Draft7Validator(POST_EMAIL).iter_errors(body), key=str)
        if problems:
            return _errors(400, *[("ValidationError", _schema_message(p)) for p in problems])
        address = body["email_address"]
        if not _EMAIL.match(address):
            return _errors(400, ("ValidationError", "email_address Not a valid email address"))
        with self._lock:
            template = self.templates.get(body["template_id"].lower())
            refusal = self._trouble.refused.get(address.lower())
            failing = self._trouble.fail_for.get(address.lower())
            status = failing.pop(0) if failing else None
        if status is not None:
            return _errors(status, ("Exception", "Internal server error"))
        if template is None:
            return _errors(400, ("BadRequestError", "Template not found"))
        if refusal:
            return _errors(400, ("BadRequestError", refusal))
        values = body.get("personalisation") or {}
        subject, text = template
        missing = [name for name in placeholders(subject + "\n" + text) if name not in values]
        if missing:
            return _errors(
                400, ("BadRequestError", f"Missing personalisation: {', '.join(missing)}")
            )
        notification = Notification(
            id=str(uuid.uuid4()),
            email_address=address,
            template_id=body["template_id"].lower(),
            personalisation=values,
            reference=body.get("reference"),
            subject=fill(subject, values),
            body=fill(text, values),
            status=self._trouble.ends_as.get(address.lower(), self.default_status),
            created_at=_now(),
            sent_at_monotonic=time.monotonic(),
        )
        with self._arrived:
            self.accepted += 1
            self.send_times.append(notification.sent_at_monotonic)
            if self.keep:
                self.notifications.append(notification)
                self.by_id[notification.id] = notification
            self._arrived.notify_all()
        root = self.base_url
        return JSONResponse(
            {
                "id": notification.id,
                "reference": notification.reference,
                "content": {
                    "subject": notification.subject,
                    "body": notification.body,
                    "from_email": "casework@notifications.service.gov.uk",
                    "one_click_unsubscribe_url": None,
                },
                "uri": f"{root}/v2/notifications/{notification.id}",
                "template": {
                    "id": notification.template_id,
                    "version": 1,
                    "uri": f"{root}/v2/template/{notification.template_id}/version/1",
                },
                "scheduled_for": None,
            },
            201,
        )

    async def _get_notification(self, request: Request) -> JSONResponse:
        refused = self._auth(request)
        if refused is not None:
            return refused
        id = request.path_params["id"]
        try:
            uuid.UUID(id)
        except ValueError:
            return _errors(400, ("ValidationError", "notification_id is not a valid UUID"))
        with self._lock:
            n = self.by_id.get(id)
        if n is None:
            return _errors(404, ("NoResultFound", "No result found"))
        empty = dict.fromkeys(
            (
                "phone_number",
                "line_1",
                "line_2",
                "line_3",
                "line_4",
                "line_5",
                "line_6",
                "postcode",
                "postage",
            )
        )
        return JSONResponse(
            {
                "id": n.id,
                "reference": n.reference,
                "email_address": n.email_address,
                **empty,
                "type": "email",
                "status": n.status,
                "template": {
                    "id": n.template_id,
                    "version": 1,
                    "uri": f"{self.base_url}/v2/template/{n.template_id}/version/1",
                },
                "body": n.body,
                "subject": n.subject,
                "created_at": n.created_at,
                "created_by_name": None,
                "sent_at": n.created_at,
                "completed_at": n.created_at if n.status not in ("created", "sending") else None,
                "scheduled_for": None,
                "one_click_unsubscribe_url": None,
                "is_cost_data_ready": False,
            }
        )


def _schema_message(error: jsonschema.ValidationError) -> str:
    """Notify's form: the field, then what is wrong with it."""
    where = error.path[0] if error.path else ""
    if error.validator == "pattern" and where in ("template_id", "email_reply_to_id"):
        return f"{where} is not a valid UUID"
    return f"{where} {error.message}".strip().replace("'", "")
