"""Which files to look at: walk the given paths, skip the usual non-source trees.

Directories named like VCS metadata, caches and build output are skipped, and so
is any directory holding a ``pyvenv.cfg`` (a virtualenv, whatever its name).
Symlinked directories are not followed (no loops); symlinked files found while
walking are skipped too (their target is migrated where it lives). Paths named on
the command line are taken unless an ``--exclude`` pattern matches them (pre-commit
names every file explicitly). A pattern matches a file or directory name, a path
relative to the walked directory, or a path relative to the current directory (or
any directory above the path in those). Results are sorted, so output is deterministic.
Markdown and reST documents are taken too: READMEs carry the recipe in code blocks.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tf_repro_migrate.fileio import TEMP_SUFFIX

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", "build", "dist",
    "node_modules", ".eggs", "*.egg-info", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".ipynb_checkpoints",
)
DOC_SUFFIXES = (".md", ".markdown", ".rst")  # their Python code blocks are migrated (docs.py)
SOURCE_SUFFIXES = (".py", ".ipynb", *DOC_SUFFIXES)


def _excluded(name: str, rel: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in patterns)


def _cwd_relative(path: Path) -> str | None:
    """``path`` relative to the current directory, or None when it is not below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive (Windows)
        return None
    return None if rel == ".." or rel.startswith(".." + os.sep) else Path(rel).as_posix()


def _named_path_excluded(path: Path, patterns: list[str]) -> bool:
    """Whether a path named on the command line, or a directory above it, matches a pattern."""
    if not patterns:
        return False
    given = path.as_posix().removeprefix("./")
    candidates = {given, path.name}
    # Directories above the path count only within the relative spellings (the path as given
    # when relative, and relative to the current directory): never /home or /tmp.
    relatives = [r for r in (None if path.is_absolute() else given, _cwd_relative(path)) if r and r != "."]
    for text in relatives:
        parts = [p for p in text.split("/") if p not in ("", ".")]
        candidates.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        candidates.update(p for p in parts if p != "..")
    return any(fnmatch.fnmatch(c, p) for c in candidates for p in patterns)


def _patterns(excludes: Iterable[str]) -> list[str]:
    # "build/" means the directory build: fnmatch never matches a trailing slash
    return [p.rstrip("/").removeprefix("./") or p for p in excludes]


def discover(paths: Iterable[str], excludes: Iterable[str] = (), default_excludes: bool = True,
             on_directory: Callable[[Path], object] | None = None) -> Iterator[Path]:
    """Yield the source files under ``paths`` in sorted order; ``on_directory`` is called for
    each directory walked (``--write`` removes stale temporary files there)."""
    user = _patterns(excludes)
    patterns = [*user, *(DEFAULT_EXCLUDES if default_excludes else ())]
    for raw in sorted(set(paths)):
        root = Path(raw)
        if _named_path_excluded(root, user):
            continue
        if not root.is_dir():
            yield root  # files (or missing paths, reported by the caller) are taken as given
            continue
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(root):
            base = Path(dirpath)
            if on_directory is not None:
                on_directory(base)
            kept = []
            for d in dirnames:
                full = base / d
                rel = full.relative_to(root).as_posix()
                if (_excluded(d, rel, patterns) or _cwd_excluded(full, user) or (full / "pyvenv.cfg").exists()
                        or full.is_symlink()):
                    continue
                kept.append(d)
            dirnames[:] = sorted(kept)
            for name in filenames:
                if not name.endswith(SOURCE_SUFFIXES) or name.endswith(TEMP_SUFFIX):
                    continue
                full = base / name
                if full.is_symlink() or _excluded(name, full.relative_to(root).as_posix(), user) or \
                        _cwd_excluded(full, user):
                    continue
                found.append(full)
        yield from sorted(found)


def _cwd_excluded(path: Path, patterns: list[str]) -> bool:
    if not patterns:
        return False
    rel = _cwd_relative(path)
    return rel is not None and any(fnmatch.fnmatch(rel, p) for p in patterns)
