"""Files on disk written whole or not at all (evidence files, backup archives)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator


@contextmanager
def written_whole(path: Path) -> Iterator[BinaryIO]:
    """A file to write that appears at `path` only once it is all on the disk.

    It is written beside its final place (same file system, so the rename is
    atomic), flushed to the disk, then renamed over `path`: a reader, a crash
    or a full disk never leaves half a file there. An exception removes it.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
