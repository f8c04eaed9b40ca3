"""Reading a posted form: its size first, then the CSRF token, then its fields.

Every POST route reads its form through `posted()`, so none can forget the
token: a form without this session's token is refused (403) before any
service is called.
"""

from __future__ import annotations

import calendar
import hmac
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from workflow.errors import Malformed
from workflow.web.auth import session_of
from workflow.web.errors import BodyTooLarge, CsrfRefused
from workflow.web.pages import Problem

CSRF_FIELD = "csrf_token"
MAX_TEXT = 20_000  # characters in one text field


@dataclass
class Posted:
    data: FormData

    def text(self, name: str, default: str = "") -> str:
        value = self.data.get(name)
        if value is None or isinstance(value, UploadFile):
            return default
        if len(value) > MAX_TEXT:
            raise Malformed("The form", [f"{name}: is longer than {MAX_TEXT:,} characters"])
        # Browsers send CRLF line breaks; text is kept as typed, with plain newlines.
        return value.replace("\r\n", "\n")

    def optional(self, name: str) -> str | None:
        return self.text(name).strip() or None

    def pounds(self, name: str) -> str:
        """An amount of money as people type it, in the form the services read: see
        `pounds_typed`."""
        return pounds_typed(self.text(name))

    def date(self, name: str, label: str, *, required: bool = False) -> DateTyped:
        """A date typed in the three boxes of the date macro (`NAME-day`, `NAME-month`,
        `NAME-year`): see `date_typed`."""
        day, month, year = (self.text(f"{name}-{part}") for part in DATE_PARTS)
        return date_typed(name, label, day, month, year, required=required)

    def number(self, name: str) -> int | None:
        raw = self.text(name).strip()
        return int(raw) if raw.isdigit() and len(raw) < 10 else None

    def file(self, name: str) -> UploadFile | None:
        value = self.data.get(name)
        if isinstance(value, UploadFile) and (value.filename or value.size):
            return value
        return None

    def values(self) -> dict[str, Any]:
        """The text fields as typed, to fill the form again after a refusal."""
        return {k: v for k, v in self.data.items() if isinstance(v, str) and k != CSRF_FIELD}


# "250000", "£250,000", "£ 1,250,000.50": pounds as people write them (GOV.UK asks services to
# accept the pound sign and commas between thousands rather than refuse them).
_POUNDS = re.compile(r"£?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?")


def version_asked(request: Request, name: str = "version") -> int | None:
    """`?version=N` (or another query parameter `name` naming a version) of a page that
    shows one of several versions (an application, an agreement): None when not asked;
    anything but a version number is refused, rather than quietly showing the newest."""
    raw = request.query_params.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise Malformed(f"The version '{raw}'", ["it is not a version number, like 1"])
    return int(raw)


def pounds_typed(raw: str) -> str:
    """Money typed into a form ("£250,000") as the services read it ("250000"): a leading
    pound sign and commas between thousands are dropped. Anything else is passed on as
    typed, so a refusal quotes what the person wrote."""
    text = raw.strip()
    found = _POUNDS.fullmatch(text)
    if found is None:
        return text
    return found.group(1).replace(",", "") + (found.group(2) or "")


def not_pounds(raw: str, label: str) -> str:
    """The error line for money typed as no amount ("" when it is one, or left empty), in the
    words GOV.UK gives ("Amount asked for must be an amount in pounds, like ...")."""
    text = raw.strip()
    if not text or _POUNDS.fullmatch(text):
        return ""
    return f"{label} must be an amount in pounds, like 250000 or £250,000.50"


async def posted(request: Request) -> Posted:
    limit = request.app.state.settings.max_body_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLarge(limit)
    request.scope["casework.body_limit"] = limit
    try:
        data = await request.form(max_files=2, max_fields=100, max_part_size=1024 * 1024)
    except MultiPartException as err:
        raise Malformed("The form", [str(err)]) from None
    sent = data.get(CSRF_FIELD)
    expected = session_of(request).csrf
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        await data.close()
        raise CsrfRefused()
    return Posted(data)


DATE_PARTS = ("day", "month", "year")
# Month names as people write them, in full or cut short ("january", "jan", "sept").
_MONTHS = {
    **{name.lower(): n for n, name in enumerate(calendar.month_name) if name},
    **{name.lower(): n for n, name in enumerate(calendar.month_abbr) if name},
    "sept": 9,
}


@dataclass(frozen=True)
class DateTyped:
    """A date typed in three boxes: what was typed in each (kept for the form again), and
    the date in ISO form (`iso`, as the services read it: "2015-06-30"), or the error line
    (`error`) and the boxes it is about (`parts`: all three for the date as a whole)."""

    name: str
    typed: dict[str, str]
    iso: str | None = None
    error: str = ""
    parts: tuple[str, ...] = ()

    def problem(self) -> Problem | None:
        """The error as a line of the summary, at the boxes in error (None: no error)."""
        return Problem(self.error, self.name, self.parts) if self.error else None

    def kept(self) -> dict[str, str]:
        """The boxes as typed, by their names in the form (`end-day`: "31")."""
        return {f"{self.name}-{part}": self.typed[part] for part in DATE_PARTS}


def date_typed(
    name: str, label: str, day: str, month: str, year: str, *, required: bool = False
) -> DateTyped:
    """A date from the day, month and year boxes of the GOV.UK date input, checked as the
    Design System asks, its errors in its words for the date labelled `label` ("End date"):

    - nothing typed: no date, or "Enter the end date" when one is `required`;
    - a box left empty: "End date must include a month" ("... a day and year"), at those boxes;
    - no such day, month or year (the 31st of February, month 13, a year not of 4 numbers):
      "End date must be a real date", at the box at fault, or the date as a whole when more
      than one is, or it is the day and month together (31 2).

    A month may be a number or a name, in full or cut short ("jan"); spaces around are
    ignored.
    """
    typed = {"day": day, "month": month, "year": year}
    text = {part: value.strip() for part, value in typed.items()}
    missing = tuple(part for part in DATE_PARTS if not text[part])
    if len(missing) == len(DATE_PARTS):
        if required:
            enter = f"Enter the {label[:1].lower()}{label[1:]}"
            return DateTyped(name, typed, error=enter, parts=DATE_PARTS)
        return DateTyped(name, typed)
    if missing:
        said = " and ".join(missing)
        return DateTyped(name, typed, error=f"{label} must include a {said}", parts=missing)
    d = int(text["day"]) if re.fullmatch(r"[0-9]{1,2}", text["day"]) else 0
    m_text = text["month"].lower().rstrip(".")
    m = int(m_text) if re.fullmatch(r"[0-9]{1,2}", m_text) else _MONTHS.get(m_text, 0)
    y = int(text["year"]) if re.fullmatch(r"[0-9]{4}", text["year"]) else 0
    wrong = tuple(
        part
        for part, ok in (("day", 1 <= d <= 31), ("month", 1 <= m <= 12), ("year", y >= 1))
        if not ok
    )
    if not wrong:
        try:
            return DateTyped(name, typed, iso=date(y, m, d).isoformat())
        except ValueError:  # a day the month does not have: the date as a whole
            pass
    real = f"{label} must be a real date"
    return DateTyped(name, typed, error=real, parts=wrong if len(wrong) == 1 else DATE_PARTS)
