"""Reading and writing source files without losing anything.

Files are read as bytes and parsed by libcst as bytes, so the encoding cookie, a
UTF-8 BOM and CRLF line endings come back out unchanged. Writes are atomic: the new
bytes go to a temporary file next to the original (same directory, so the rename
cannot cross file systems), flushed and fsynced, given the original's mode, then
renamed over it. A run killed at any point leaves each file either old or new; a
temporary file it leaves behind is named ``.<name>.tf-repro-migrate.tmp`` and is
never picked up as a source file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tf-repro-migrate.tmp"


class SourceError(Exception):
    """A file that cannot be processed; the message is the one-line reason."""


def read_source(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except PermissionError:
        raise SourceError("permission denied") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise SourceError("symlink loop") from None
        raise SourceError(exc.strerror or str(exc)) from None
    if b"\0" in data:
        raise SourceError("binary file (contains NUL bytes)")
    return data


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path``'s content with ``data`` atomically, keeping its permission bits."""
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
