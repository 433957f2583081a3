"""Which files to look at: walk the given paths, skip the usual non-source trees.

Directories named like VCS metadata, caches and build output are skipped, and so
is any directory holding a ``pyvenv.cfg`` (a virtualenv, whatever its name).
Symlinked directories are not followed (no loops); symlinked files found while
walking are skipped too (their target is migrated where it lives). Paths named on
the command line are always taken. Results are sorted, so output is deterministic.
Markdown and reST documents are taken too: READMEs carry the recipe in code blocks.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable, Iterator

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


def discover(paths: Iterable[str], excludes: Iterable[str] = (), default_excludes: bool = True) -> Iterator[Path]:
    """Yield the source files under ``paths`` in sorted order (explicit files always)."""
    patterns = [*excludes, *(DEFAULT_EXCLUDES if default_excludes else ())]
    for raw in sorted(set(paths)):
        root = Path(raw)
        if not root.is_dir():
            yield root  # files (or missing paths, reported by the caller) are taken as given
            continue
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(root):
            base = Path(dirpath)
            kept = []
            for d in dirnames:
                full = base / d
                rel = full.relative_to(root).as_posix()
                if _excluded(d, rel, patterns) or (full / "pyvenv.cfg").exists() or full.is_symlink():
                    continue
                kept.append(d)
            dirnames[:] = sorted(kept)
            for name in filenames:
                if not name.endswith(SOURCE_SUFFIXES) or name.endswith(TEMP_SUFFIX):
                    continue
                full = base / name
                if full.is_symlink() or _excluded(name, full.relative_to(root).as_posix(), excludes):
                    continue
                found.append(full)
        yield from sorted(found)
