"""Evidence files attached to monitoring returns, stored by their SHA-256.

A file is kept once however often it is attached (`ab/cdef…` under the files
folder) and never changed afterwards, so the hash on the checkpoint row and in
its history row always names exactly the bytes that were submitted. A refused
file is refused before anything is written.

Where: `CASEWORK_FILES`, else a `casework-files` folder beside a SQLite
database, else `./casework-files`.
"""

from __future__ import annotations

from typing import Any

import hashlib
import os
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from sqlalchemy import Engine

from states.text import text_problem

from workflow.errors import Malformed, NotFound
from workflow.storage.whole_files import written_whole

MAX_BYTES = 10 * 1024 * 1024
MAX_NAME = 200
# The types a council may attach, by suffix, with the media type they are served as.
ALLOWED: dict[str, str] = {
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}
_ZIPPED = {".xlsx", ".docx", ".odt", ".ods"}
_WORDS = {
    ".pdf": "a PDF",
    ".xlsx": "an Excel workbook",
    ".docx": "a Word document",
    ".csv": "a CSV file",
    ".odt": "an OpenDocument text",
    ".ods": "an OpenDocument spreadsheet",
}


@dataclass(frozen=True)
class Stored:
    sha256: str
    name: str
    size: int
    media_type: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
        }


def files_root(engine: Engine | None = None) -> Path:
    """The folder evidence files live in (see the module docstring)."""
    configured = os.environ.get("CASEWORK_FILES", "").strip()
    if configured:
        return Path(configured)
    if (
        engine is not None
        and engine.dialect.name == "sqlite"
        and engine.url.database
        and engine.url.database != ":memory:"
    ):
        return Path(engine.url.database).resolve().parent / "casework-files"
    return Path("casework-files")


def clean_name(name: str) -> str:
    """The file's own name, without any folder a browser or a path put before it."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


def problems(name: str, data: bytes) -> list[str]:
    """Every reason to refuse this file, as sentences; empty when it may be stored."""
    base = clean_name(name)
    suffix = Path(base).suffix.lower()
    out: list[str] = []
    if not base or base.startswith("."):
        out.append(f"'{name}' is not a file name")
    elif len(base) > MAX_NAME:
        out.append(f"the file name must be one line of at most {MAX_NAME} characters")
    elif (bad := text_problem("file name", base, one_line=True)) is not None:
        out.append(bad)
    if suffix not in ALLOWED:
        kinds = ", ".join(s.lstrip(".") for s in ALLOWED)
        out.append(f"{base or name} is not a type we accept (accepted: {kinds})")
    if not data:
        out.append(f"{base or name} is empty")
    elif len(data) > MAX_BYTES:
        out.append(
            f"{base} is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_BYTES // 1024 // 1024} MB"
        )
    elif suffix in ALLOWED and not _looks_like(suffix, data):
        out.append(f"{base} is named as {_WORDS[suffix]} but its contents are not one")
    return out


def _looks_like(suffix: str, data: bytes) -> bool:
    """A cheap check that the bytes are what the suffix says: a renamed .exe is refused."""
    if suffix == ".pdf":
        return data[:1024].lstrip().startswith(b"%PDF-")
    if suffix in _ZIPPED:
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                return bool(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return False
    try:  # .csv: text, with no NUL bytes
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")  # spreadsheets on Windows save CSV this way
        except UnicodeDecodeError:
            return False
    return "\x00" not in text


def check(name: str, data: bytes) -> None:
    """Malformed naming every problem with the file, or nothing."""
    found = problems(name, data)
    if found:
        raise Malformed("The attachment", found)


def store(name: str, data: bytes, root: Path) -> Stored:
    """Check the file, then keep it under its hash (once, atomically); returns what was kept."""
    check(name, data)
    digest = hashlib.sha256(data).hexdigest()
    path = path_for(digest, root)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with written_whole(path) as out:
            out.write(data)
    base = clean_name(name)
    return Stored(digest, base, len(data), ALLOWED[Path(base).suffix.lower()])


def path_for(sha256: str, root: Path) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound(f"'{sha256}' is not the SHA-256 of a stored file.")
    return root / sha256[:2] / sha256[2:]


def read(sha256: str, root: Path) -> bytes:
    """The stored bytes, checked against their hash (a changed file is not served)."""
    path = path_for(sha256, root)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"The evidence file {sha256[:12]}… is not in {root}.") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise NotFound(f"The evidence file {sha256[:12]}… in {root} no longer matches its hash.")
    return data


def media_type(name: str) -> str:
    return ALLOWED.get(Path(name).suffix.lower(), "application/octet-stream")
