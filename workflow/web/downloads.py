"""An evidence file sent to a browser: its own name kept, never cached."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response


def evidence_download(data: bytes, name: str, media_type: str) -> Response:
    """`data` as an attachment named `name`: a plain ASCII name for old browsers and the
    name as typed (RFC 6266 `filename*`) for the rest; not kept in any cache."""
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
