"""A backup archive: one .tar.gz holding a copy of the database, the evidence
files and the seals, with a manifest of every member's SHA-256.

One file, rather than a folder, because an operator copies it off the server
in one step, it appears under its name only once it is whole (it is written
beside its final place and renamed), and a copy cut short is caught: gzip and
tar notice a missing end, and the manifest, written last, names every member
with its size and hash. A member whose bytes do not match the manifest, a
member the manifest does not name, or a manifest missing altogether, and the
archive is refused.

Layout:
    manifest.json              written last; see `write`
    database.sqlite3           a SQLite source, copied with the online backup API
    tables/<table>.jsonl       a PostgreSQL source, every table as rows (workflow.storage.table_dump)
    files/ab/cdef…             evidence files, named by their SHA-256 as CASEWORK_FILES keeps them
    seals/…                    the files of CASEWORK_SEAL_DIR
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Iterable, Optional

from workflow.errors import Refused
from workflow.storage.whole_files import written_whole

FORMAT = "casework-backup"
VERSION = 1
MANIFEST = "manifest.json"
# gzip level 1: the database copy is most of an archive, and level 9 (tarfile's
# default) took three times as long for a file a tenth smaller (a 16 MB database).
COMPRESS_LEVEL = 1
_CHUNK = 1 << 20


class BadArchive(Refused):
    """An archive that cannot be trusted: truncated, altered, or not a casework backup."""

    def __init__(self, path: Path, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path} was refused: {problem}; nothing was restored or changed.")


class _Hashing:
    """A file read through, hashing what passes (so each member is read once)."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha.update(data)
        self.size += len(data)
        return data


def write(path: Path, members: Iterable[tuple[str, Path]], about: dict) -> dict:
    """Write the archive at `path` (which must not exist yet); returns its manifest.

    `members` are (name in the archive, file on disk); `about` goes into the
    manifest beside the members' hashes. Nothing is left at `path` unless the
    whole archive was written.
    """
    listed: dict[str, dict] = {}
    with written_whole(path) as out:
        raw = _Paced(out)
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=COMPRESS_LEVEL) as tar:
            for name, source in members:
                with source.open("rb") as f:
                    info = tar.gettarinfo(fileobj=f, arcname=name)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    reader = _Hashing(f)
                    tar.addfile(info, reader)
                listed[name] = {"sha256": reader.sha.hexdigest(), "size": reader.size}
            manifest = {"format": FORMAT, "version": VERSION, **about, "members": listed}
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, _Hashing(_Bytes(data)))
    return manifest


class _Paced:
    """The archive's file, sent to the disk every few megabytes as it is written.

    Left in the page cache, a large archive makes the kernel hold back every
    process that writes until it is flushed, the database's writers included.
    """

    EVERY = 16 << 20

    def __init__(self, out: IO[bytes]):
        self.out, self.pending = out, 0

    def write(self, data: bytes) -> int:
        n = self.out.write(data)
        self.pending += len(data)
        if self.pending >= self.EVERY:
            self.out.flush()
            os.fdatasync(self.out.fileno())
            self.pending = 0
        return n

    def flush(self) -> None:
        self.out.flush()


class _Bytes:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.at + n
        chunk, self.at = self.data[self.at : end], min(end, len(self.data))
        return chunk


def verify(path: Path) -> dict:
    """Read the whole archive and check it against its manifest; returns the manifest."""
    return _read(path, lambda name: None)


def extract(path: Path, into: Path) -> dict:
    """Check the archive as `verify` does while writing its members under `into`."""

    def sink(name: str) -> IO[bytes]:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.open("wb")

    return _read(path, sink)


def _read(path: Path, sink: Callable[[str], Optional[IO[bytes]]]) -> dict:
    if not path.is_file():
        raise BadArchive(path, "there is no such file")
    found: dict[str, dict] = {}
    manifest_bytes: bytes | None = None
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                name = _safe_name(path, member)
                source = tar.extractfile(member)
                assert source is not None  # _safe_name admits regular files only
                if name == MANIFEST:
                    manifest_bytes = source.read()
                    continue
                out = sink(name)
                sha, size = hashlib.sha256(), 0
                try:
                    while chunk := source.read(_CHUNK):
                        sha.update(chunk)
                        size += len(chunk)
                        if out is not None:
                            out.write(chunk)
                finally:
                    if out is not None:
                        out.close()
                found[name] = {"sha256": sha.hexdigest(), "size": size}
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise BadArchive(
            path, f"it is truncated or not a casework backup ({str(err) or type(err).__name__})"
        ) from None
    if manifest_bytes is None:
        raise BadArchive(path, f"it has no {MANIFEST} (truncated, or not a casework backup)")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        raise BadArchive(path, f"its {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadArchive(path, "it is not a casework backup")
    if manifest.get("version") != VERSION:
        raise BadArchive(
            path,
            f"it is a version {manifest.get('version')} backup; this "
            f"casework reads version {VERSION}",
        )
    _compare(path, manifest.get("members") or {}, found)
    return manifest


def _safe_name(path: Path, member: tarfile.TarInfo) -> str:
    name = PurePosixPath(member.name)
    if not member.isfile() or name.is_absolute() or ".." in name.parts or not name.parts:
        raise BadArchive(path, f"'{member.name}' is not a member a casework backup holds")
    return str(name)


def _compare(path: Path, listed: dict, found: dict) -> None:
    for name, expected in sorted(listed.items()):
        got = found.get(name)
        if got is None:
            raise BadArchive(path, f"{name} is missing (truncated?)")
        if got != expected:
            raise BadArchive(path, f"{name} does not match its SHA-256 in the manifest")
        if name.startswith("files/"):
            digest = "".join(PurePosixPath(name).parts[1:])
            if got["sha256"] != digest:
                raise BadArchive(path, f"the evidence file {name} does not match its name")
    extra = sorted(set(found) - set(listed))
    if extra:
        raise BadArchive(path, f"{extra[0]} is not in the manifest")
