"""Reading a posted form: its size first, then the CSRF token, then its fields.

Every POST route reads its form through `posted()`, so none can forget the
token: a form without this session's token is refused (403) before any
service is called.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from workflow.errors import Malformed
from workflow.web.auth import session_of
from workflow.web.errors import BodyTooLarge, CsrfRefused

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
