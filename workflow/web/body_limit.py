"""The request-body cap the web app and the API share; each answers a refusal its own way.

`limited(receive, limit, refusal)` is the ASGI `receive` that counts the body
as the route reads it and raises `refusal()` once it passes `limit` bytes,
whatever Content-Length said. The web app raises its own error (answered with
a page), the API an HTTPException (answered as a problem).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Message, Receive

__all__ = ["limited"]


def limited(receive: Receive, limit: int, refusal: Callable[[], Exception]) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise refusal()
        return message

    return counted
