"""Form fields and file names that are not UTF-8 are refused, never guessed.

Starlette decodes a multipart field, or a file name, that is not valid in its
declared charset (UTF-8 unless the part says otherwise) as Latin-1 instead, so
`figures` sent in another encoding were read as different text than was sent.
Here that decoding raises Starlette's own MultiPartException, which Starlette
answers 400 (and the API as problem+json) with this message. Starlette has no
setting for it; the replaced function is private, so
tests/api/test_security_findings.py sends figures in Latin-1 end to end and
fails should Starlette stop calling it.
"""

from __future__ import annotations

from starlette import formparsers

MESSAGE = "A form field or file name is not UTF-8 text; nothing was read (send it as UTF-8)."


def _strict_decode(src: bytes | bytearray, codec: str) -> str:
    try:
        return bytes(src).decode(codec or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise formparsers.MultiPartException(MESSAGE) from None


def install() -> None:
    """Make every multipart form in this process refuse text that does not decode."""
    formparsers._user_safe_decode = _strict_decode
