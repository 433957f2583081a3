"""Reading and writing source files without losing anything.

Files are read as bytes and parsed by libcst as bytes, so the encoding cookie, a
UTF-8 BOM and CRLF line endings come back out unchanged. Writes are atomic: the new
bytes go to a temporary file next to the original (same directory, so the rename
cannot cross file systems), flushed and fsynced, given the original's mode, owner and
group, then renamed over it. A run killed at any point leaves each file either old or
new; a temporary file it leaves behind is named ``.<name>.<pid>.<random>.tf-repro-migrate.tmp``,
is never picked up as a source file, and is removed by a later ``--write`` run once the
process ``<pid>`` is gone (``remove_stale_temps``).

What the run does not own is kept: a file that changed on disk since it was read (size,
mtime or inode differ) is not overwritten (``FileChangedError``); a symlink keeps pointing
at its target, which gets the new content; a file with several hard links is rewritten in
place, so every link sees the new content (the one write that is not atomic: see README,
Limits).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tf-repro-migrate.tmp"
_TEMP_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.[^.]+" + re.escape(TEMP_SUFFIX) + "$")


class SourceError(Exception):
    """A file that cannot be processed; the message is the one-line reason."""


class FileChangedError(SourceError):
    """The file changed on disk while it was being migrated, so it was not overwritten."""


def read_source(path: Path) -> bytes:
    """The file's bytes; raises SourceError with a one-line reason."""
    return read_source_stat(path)[0]


def read_source_stat(path: Path) -> tuple[bytes, os.stat_result]:
    """The file's bytes and its status when it was read (for ``write_atomic``'s change check)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise SourceError("not a regular file")
            data = handle.read()
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except PermissionError:
        raise SourceError("permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourceError("symlink loop") from None
        raise SourceError(exc.strerror or str(exc)) from None
    if b"\0" in data:
        raise SourceError("binary file (contains NUL bytes)")
    return data, st


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev


def write_atomic(path: Path, data: bytes, expected: os.stat_result | None = None) -> None:
    """Replace ``path``'s content with ``data`` atomically, keeping its mode, owner and group.

    ``expected`` is the file's status when it was read: if the file no longer matches it, it
    was changed by someone else meanwhile and is left alone (FileChangedError). A symlink is
    followed (its target is rewritten, the link stays)."""
    target = Path(os.path.realpath(path))
    st = target.stat()
    if expected is not None and _identity(st) != _identity(expected):
        raise FileChangedError("changed on disk while it was being migrated; not overwritten")
    if st.st_nlink > 1:
        _write_in_place(target, data, st, expected)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        _keep_owner(tmp, st)
        if expected is not None and _identity(target.stat()) != _identity(expected):  # once more, just before
            raise FileChangedError("changed on disk while it was being migrated; not overwritten")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _keep_owner(tmp: str, st: os.stat_result) -> None:
    """Give the temporary file the original's owner and group (as root: the user's, not root's)."""
    if not hasattr(os, "chown"):  # pragma: no cover - Windows
        return
    own = os.stat(tmp)
    if (own.st_uid, own.st_gid) == (st.st_uid, st.st_gid):
        return
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
    except PermissionError:
        # Not root: the group may still be one of ours; the owner cannot be given away.
        with contextlib.suppress(PermissionError):
            os.chown(tmp, -1, st.st_gid)


def _write_in_place(target: Path, data: bytes, st: os.stat_result, expected: os.stat_result | None) -> None:
    """Rewrite a hard-linked file through its inode, so that every link sees the new content."""
    with open(target, "r+b") as handle:
        now = os.fstat(handle.fileno())
        if expected is not None and _identity(now) != _identity(expected):
            raise FileChangedError("changed on disk while it was being migrated; not overwritten")
        handle.write(data)  # one write of the whole content, then cut what the old one had beyond it
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file of ``write_atomic``."""
    return name.endswith(TEMP_SUFFIX)


def remove_stale_temps(directory: Path) -> list[Path]:
    """Remove the temporary files of ``write_atomic`` in ``directory`` whose process is gone
    (a run killed while writing); returns what was removed. Another run's live ones stay."""
    removed: list[Path] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None or _alive(int(match.group("pid"))):
            continue
        path = directory / name
        with contextlib.suppress(OSError):
            if stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
                removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not a pid we can ask about: leave it
    return True
