"""GOV.UK Notify as a transport, behind the same interface as SMTP (`send(messages, record)`).

Each outbox row becomes one Notify email notification per recipient (Notify
sends to one address at a time; To and Cc are all recipients), through the
`notifications-python-client` package: `POST /v2/notifications/email` with
the kind's template, the personalisation it needs (`subject` and `body` for
the generic template; a kind's own is given its values too, kept on the row
when it was queued: notify_templates), and the row's outbox key as Notify's
`reference`. Recipients accepted on an earlier try of the row (its
`notify_ids`, on the message as `accepted`) are not sent it again: a try that
fails part-way keeps those it got through to in its result's `receipts`. Each request carries a JWT (HS256, `iss`
the service id, `iat` now) signed with the API key's secret; the client
makes it.

Notify's answers, as results (DESIGN section 3 and Notify's error tables):
- 201: `Sent`, with Notify's ids in `receipts` for the delivery receipts;
- 400: `PermFailure` with Notify's message (a team or trial key sending to
  an address outside the team says so in one line);
- 403: the API key is refused: delivery stops (nothing more is tried by this
  transport, so every message keeps its tries) and it is logged once;
- 429: over the rate or the daily limit: the batch stops, the message in hand
  and the rest untried (tries kept), due again at the next delivery;
- 5xx: `TempFailure`, retried with backoff; a timeout or a refused
  connection: `TempFailure`, and that worker starts no more (as SMTP's).

Notify allows 3,000 messages a minute per service: a rolling-window limiter
keeps this process under it, and a 429 (several processes together over it)
still costs no tries.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import threading
import time
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Iterator, Mapping, Sequence

from notifications.notify_templates import NotifyTemplates, needs, templates_from_env
from notifications.transports import PermFailure, Record, SendResult, Sent, TempFailure

log = logging.getLogger("casework.notify")

NOTIFY_BASE_URL = "https://api.notifications.service.gov.uk"
RATE_LIMIT = 3000  # messages a minute per service (Notify's documented limit)
RATE_WINDOW = 60.0
_KEY = re.compile(
    r"^(?P<name>.*)-(?P<service>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"-(?P<secret>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
# Notify's own sentences for a team or trial key sending outside the team.
_TEAM_ONLY = ("team-only api key", "trial mode")
_TEXT_WIDTH = 72  # notifications.render folds text parts at this width
# A recipient whose notification ended so is sent the message again by a retry.
FAILED = ("permanent-failure", "temporary-failure", "technical-failure")


def service_id(api_key: str) -> str:
    """The service id inside a Notify API key (`name-<service id>-<secret>`); ValueError if it is not one."""
    found = _KEY.match(api_key.strip().lower())
    if not found:
        raise ValueError(
            "CASEWORK_NOTIFY_API_KEY is not a Notify API key: it ends with the "
            "service id and the secret, two UUIDs (name-<service id>-<secret>)"
        )
    return found.group("service")


def unwrap(text: str) -> str:
    """Undo the 72-column folding of a text part, so Notify gets one paragraph a line.

    Notify turns each line break into a break in the email, which would leave
    ragged lines in a proportional font. A line was folded exactly when the
    next line's first word would have fitted on it otherwise.
    """
    out: list[str] = []
    previous = ""  # the line before, as folded (out[-1] may be lines joined)
    for line in text.split("\n"):
        first_word = line.split(" ", 1)[0]
        # Only a line the folding filled comes before a continuation.
        if (
            out
            and previous
            and line
            and first_word
            and len(previous) + 1 + len(first_word) > _TEXT_WIDTH >= len(previous)
        ):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        previous = line
    return "\n".join(out)


def personalisation(msg: EmailMessage) -> dict[str, str]:
    """What the generic template is given (a kind's own, more): the subject and the text part."""
    return {
        "subject": " ".join(str(msg["Subject"]).split()),
        "body": unwrap(_text_part(msg).rstrip("\n")),
    }


def _text_part(msg: EmailMessage) -> str:
    """The plain-text part (every message the outbox builds has one)."""
    part = msg.get_body(("plain",))
    if part is None:
        raise ValueError(f"the message {msg['Message-ID']} has no text part")
    return str(part.get_content())


def recipients(msg: EmailMessage) -> list[str]:
    """Bare addresses, To first then Cc, each once (Notify takes no display names)."""
    seen: list[str] = []
    for _name, address in getaddresses(
        [str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])]
    ):
        if address and address.lower() not in (a.lower() for a in seen):
            seen.append(address)
    return seen


class RateLimiter:
    """At most `limit` requests in any `window` seconds, for this process (rolling, like Notify's).

    Notify counts requests as they arrive, and a request granted a place may
    arrive late (a busy machine, a slow network): so a place is held from
    when it is granted until its request has been answered (`done`), and a
    new request is granted only a full window after an answered one. Then no
    window at Notify's end can hold more than `limit`, whatever the delays.

    A thread lock, not an asyncio one: one transport serves many delivery
    runs, each with an event loop of its own, and the receipts poller's threads.
    """

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW):
        self.limit, self.window = limit, window
        self._held: collections.deque[list[float]] = collections.deque()  # [time], oldest first
        self._lock = threading.Lock()

    def _take(self) -> tuple[float, list[float] | None]:
        """A place (0, slot), or how long to wait before asking again (delay, None)."""
        with self._lock:
            now = time.monotonic()
            while self._held and self._held[0][0] <= now - self.window:
                self._held.popleft()
            if len(self._held) < self.limit:
                slot = [now]
                self._held.append(slot)
                return 0.0, slot
            return max(self._held[0][0] + self.window - now, 0.001), None

    async def wait(self) -> list[float]:
        while True:
            delay, slot = self._take()
            if slot is not None:
                return slot
            await asyncio.sleep(delay)

    def wait_blocking(self) -> list[float]:
        while True:
            delay, slot = self._take()
            if slot is not None:
                return slot
            time.sleep(delay)

    def done(self, slot: list[float]) -> None:
        """The request holding `slot` has been answered: its window starts now."""
        with self._lock:
            slot[0] = time.monotonic()


class _Stop(Exception):
    """Start no more messages: on this connection only, or (`everyone`) on every one.

    `result` is the outcome of the message in hand, or None when it was not
    tried (it is then given back with its tries, by the transport's rule).
    """

    def __init__(self, result: SendResult | None, *, everyone: bool = False):
        self.result, self.everyone = result, everyone


class NotifyTransport:
    """Sends each message through Notify, `concurrency` requests at a time (the transport
    interface of notifications.transports: `record` is awaited for each message tried)."""

    def __init__(
        self,
        api_key: str,
        templates: NotifyTemplates,
        *,
        base_url: str = NOTIFY_BASE_URL,
        timeout: float = 30.0,
        concurrency: int = 4,
        rate: RateLimiter | None = None,
    ):
        self.service_id = service_id(api_key)  # refuses a malformed key before any request
        self.api_key, self.templates, self.base_url = api_key.strip(), templates, base_url
        self.timeout, self.concurrency = timeout, concurrency
        self.rate = rate or RateLimiter()
        self.stopped: str | None = None  # why delivery stopped (a refused key), once it has
        self.receipts = "poll"  # or "callback": how delivery receipts arrive
        self.rate_limited: str | None = None  # Notify's 429 in the last `send`, if any
        self._local = threading.local()
        # The client logs a warning for every refused request; what matters is
        # said here, once a batch (a refused key: once in all).
        logging.getLogger("notifications_python_client").setLevel(logging.ERROR)

    # --- the transport interface -----------------------------------------
    async def send(self, messages: Sequence[EmailMessage], record: Record) -> None:
        self.rate_limited = None
        workers = min(self.concurrency, len(messages))
        if self.stopped or not workers:
            return  # nothing tried: every message keeps its tries
        todo = iter(range(len(messages)))  # shared: a free worker takes the next message
        halted: list[_Stop] = []
        try:
            # A TaskGroup, so that a failing `record` stops every worker.
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(self._worker(messages, todo, record, halted))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        if self.rate_limited:
            log.warning(
                "%s; the messages not sent wait for the next delivery, tries kept",
                self.rate_limited,
            )

    async def _worker(
        self,
        messages: Sequence[EmailMessage],
        todo: Iterator[int],
        record: Record,
        halted: list[_Stop],
    ) -> None:
        for index in todo:
            if any(stop.everyone for stop in halted):
                return  # the rest of the batch stays untried
            try:
                result = await self._send_message(messages[index])
            except _Stop as stop:
                halted.append(stop)
                if stop.result is not None:
                    await record(index, stop.result)
                return
            await record(index, result)

    # --- one message -------------------------------------------------------
    def _template(self, msg: EmailMessage) -> tuple[str, dict[str, str]]:
        """The template for the message's kind and exactly the personalisation it is given
        (`notify_templates.needs`); KeyError when the kind has no template."""
        kind = str(msg.get("X-Casework-Kind") or "")
        generic = personalisation(msg)
        own = self.templates.by_kind.get(kind)
        if own is None:
            return self.templates.for_kind(kind), generic
        stored = getattr(msg, "personalisation", None)
        if stored is None and self.templates.generic:
            # Queued before its values were kept: only the generic template can send it.
            return self.templates.generic, generic
        values = {**(stored or {}), **generic}
        # A value the row lacks stays missing: Notify refuses the message naming it.
        return own, {name: values[name] for name in needs(kind) if name in values}

    async def _send_message(self, msg: EmailMessage) -> SendResult:
        key = str(msg.get("X-Casework-Key") or "")
        try:
            template, fields = self._template(msg)
        except KeyError as exc:
            return PermFailure(str(exc.args[0]))
        # Recipients Notify accepted on an earlier try are not sent it again.
        earlier = [
            (n["id"], n["to"])
            for n in getattr(msg, "accepted", ())
            if n.get("status") not in FAILED
        ]
        had = {address.lower() for _, address in earlier}
        sent: list[tuple[str, str]] = []
        refused: list[str] = []
        for address in recipients(msg):
            if address.lower() in had:
                continue
            slot = await self.rate.wait()
            try:
                outcome = await asyncio.to_thread(self._post, address, template, fields, key)
            except _Stop as stop:
                self.rate.done(slot)
                if (sent or earlier) and stop.result is None:
                    # Some recipients have it: a try, retried for the others only.
                    stop.result = TempFailure(
                        f"{self.stopped or self.rate_limited} (after "
                        f"sending to {', '.join(a for _, a in earlier + sent)})",
                        tuple(sent),
                    )
                elif isinstance(stop.result, TempFailure) and sent:
                    stop.result = TempFailure(stop.result.reason, tuple(sent))
                raise
            self.rate.done(slot)
            if isinstance(outcome, str):
                sent.append((outcome, address))
            elif isinstance(outcome, TempFailure):
                # Retried for this recipient and those after it; those accepted are kept.
                return TempFailure(outcome.reason, tuple(sent))
            else:
                refused.append(f"{address}: {outcome.reason}")
        if not sent and not earlier:
            return PermFailure(
                refused[0].split(": ", 1)[1]
                if len(refused) == 1
                else f"every recipient refused: {'; '.join(refused)}"
            )
        answer = "Notify accepted " + ", ".join(f"{address} ({id})" for id, address in sent)
        if earlier:
            answer = (
                (answer + "; " if sent else "")
                + "accepted on an earlier try: "
                + ", ".join(f"{address} ({id})" for id, address in earlier)
            )
        if refused:
            answer += f"; refused: {'; '.join(refused)}"
        return Sent(answer, receipts=tuple(sent))

    # --- delivery receipts ---------------------------------------------------
    def statuses(self, ids: Sequence[str]) -> dict[str, str | None]:
        """Each notification's status now (GET /v2/notifications/{id}); None where it
        could not be had (asked again next time). Several requests at once."""
        from concurrent.futures import ThreadPoolExecutor

        if self.stopped or not ids:
            return {}
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="notify-receipts") as pool:
            return dict(zip(ids, pool.map(self._status, ids)))

    def _status(self, id: str) -> str | None:
        from notifications_python_client.errors import APIError

        slot = self.rate.wait_blocking()
        try:
            return str(self._client().get_notification_by_id(id)["status"])
        except APIError as exc:
            if exc.response is not None and exc.status_code in (401, 403):
                self._stop(exc.status_code, _notify_message(exc))
            return None
        except Exception:  # unreachable for now: the next poll asks again
            return None
        finally:
            self.rate.done(slot)

    def _client(self) -> Any:
        """notifications_python_client's client (the library has no type hints)."""
        client = getattr(self._local, "client", None)
        if client is None:
            # One client a thread: the library's client (a requests.Session) is not thread-safe.
            from notifications_python_client.notifications import NotificationsAPIClient

            client = self._local.client = NotificationsAPIClient(
                self.api_key, base_url=self.base_url, timeout=self.timeout
            )
        return client

    def _post(
        self, address: str, template: str, fields: dict[str, str], key: str
    ) -> str | PermFailure | TempFailure:
        """Notify's id for the notification, or what went wrong; raises _Stop to end the batch."""
        from notifications_python_client.errors import APIError

        try:
            answer = self._client().send_email_notification(
                email_address=address,
                template_id=template,
                personalisation=fields,
                reference=key or None,
            )
        except APIError as exc:
            return self._refusal(exc, address)
        except Exception as exc:  # requests' connection errors and timeouts
            raise _Stop(
                TempFailure(f"Notify at {self.base_url} could not be reached: {_one_line(exc)}")
            ) from None
        return str(answer["id"])

    def _refusal(self, exc: Any, address: str) -> PermFailure | TempFailure:
        # exc: notifications_python_client's APIError (untyped)
        code = exc.status_code
        if exc.response is None:  # no HTTP answer at all: the client's own 503
            raise _Stop(
                TempFailure(
                    f"Notify at {self.base_url} could not be reached: "
                    f"{_one_line(exc.__cause__ or exc)}"
                )
            )
        text = _notify_message(exc)
        if code == 400:
            if any(marker in text.lower() for marker in _TEAM_ONLY):
                return PermFailure(
                    f"Notify 400: a team or trial API key can only send to the team's "
                    f"own addresses, and {address} is not one (add it to the guest "
                    f"list or use a live key) [{text}]"
                )
            return PermFailure(f"Notify 400: {text}")
        if code in (401, 403):
            self._stop(code, text)
            raise _Stop(None, everyone=True)
        if code == 429:
            self.rate_limited = f"Notify 429, over its limits: {text}"
            raise _Stop(None, everyone=True)
        if code >= 500:
            return TempFailure(f"Notify {code}: {text}")
        return PermFailure(f"Notify {code}: {text}")

    def _stop(self, code: int, text: str) -> None:
        """Notify refused the API key: nothing more is sent. Whoever runs the
        transport says so once (`outbox deliver` in its one line, `serve` in its log)."""
        if self.stopped is None:
            self.stopped = (
                f"Notify refused the API key ({code}: {text}); delivery is stopped "
                "until CASEWORK_NOTIFY_API_KEY is fixed and casework restarted"
            )


def _notify_message(exc: Any) -> str:
    """Notify's errors are `{"status_code": …, "errors": [{"error": …, "message": …}]}`."""
    found = exc.message
    if isinstance(found, list):
        return "; ".join(
            f"{e.get('error', 'Error')}: {e.get('message', '')}" if isinstance(e, dict) else str(e)
            for e in found
        )
    return " ".join(str(found).split())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def notify_from_env(environ: Mapping[str, str]) -> NotifyTransport:
    """CASEWORK_NOTIFY_*: the API key, the base URL, the templates; ValueError naming the setting."""
    key = environ.get("CASEWORK_NOTIFY_API_KEY", "").strip()
    if not key:
        raise ValueError(
            "CASEWORK_MAIL=notify needs CASEWORK_NOTIFY_API_KEY (from Notify's "
            "API integration page)"
        )
    service_id(key)
    base_url = environ.get("CASEWORK_NOTIFY_BASE_URL", "").strip() or NOTIFY_BASE_URL
    if not re.match(r"^https?://[^\s/]+", base_url):
        raise ValueError(f"CASEWORK_NOTIFY_BASE_URL must be an http(s) URL, not {base_url!r}")
    raw = environ.get("CASEWORK_NOTIFY_TIMEOUT", "30").strip() or "30"
    try:
        timeout = float(raw)
    except ValueError:
        raise ValueError(f"CASEWORK_NOTIFY_TIMEOUT must be a number, not {raw!r}") from None
    if not 0 < timeout < float("inf"):
        raise ValueError(
            f"CASEWORK_NOTIFY_TIMEOUT must be a positive number of seconds, not {raw!r}"
        )
    transport = NotifyTransport(
        key, templates_from_env(environ), base_url=base_url.rstrip("/"), timeout=timeout
    )
    transport.receipts = receipts_mode(environ)
    return transport


def receipts_mode(environ: Mapping[str, str]) -> str:
    """CASEWORK_NOTIFY_RECEIPTS: `poll` (the default: ask Notify every minute) or `callback`
    (Notify posts them to /notify/callback with CASEWORK_NOTIFY_CALLBACK_TOKEN)."""
    mode = environ.get("CASEWORK_NOTIFY_RECEIPTS", "poll").strip().lower() or "poll"
    if mode not in ("poll", "callback"):
        raise ValueError(f"CASEWORK_NOTIFY_RECEIPTS must be 'poll' or 'callback', not {mode!r}")
    if mode == "callback" and len(callback_token(environ) or "") < 10:
        raise ValueError(
            "CASEWORK_NOTIFY_RECEIPTS=callback needs CASEWORK_NOTIFY_CALLBACK_TOKEN: "
            "the bearer token given to Notify with the callback URL (10 characters or more)"
        )
    return mode


def callback_token(environ: Mapping[str, str]) -> str | None:
    """The bearer token Notify's callbacks must carry; /notify/callback is served only when it is set."""
    return environ.get("CASEWORK_NOTIFY_CALLBACK_TOKEN", "").strip() or None
