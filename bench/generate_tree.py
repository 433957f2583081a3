"""Build a large, realistic legacy tree for the benchmark, deterministically.

Usage::

    python bench/generate_tree.py OUT [--files 3000] [--match-fraction 0.07] [--seed 0] [--no-match]
                                      [--notebooks 0] [--tf-upgrade-safe]

The filler is ordinary Python copied from the current environment's site-packages,
then from the standard library when that runs out (files that parse as Python 3, decode as UTF-8 and are not huge). A minority of the
files (``--match-fraction``) get one or two boilerplate templates (``templates.py``,
the shapes of PATTERNS.md) spliced between their top-level statements, after the
imports, where such blocks sit in real code. ``--no-match`` builds the pre-filter's
best case instead: no boilerplate and only filler files that contain none of the
engine's trigger words (``tf_repro_migrate.rules.all_triggers()``).

The same seed and the same installed packages give the same tree. Nothing is
written outside OUT; an OUT that exists must be empty or a tree this script made.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import sys
import sysconfig
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from templates import TEMPLATES, render  # noqa: E402

MARKER = ".generated-tree"  # lets a re-run replace a tree it made, and nothing else
MIN_BYTES, MAX_BYTES = 300, 100_000
FILES_PER_DIR = 50
SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages"}  # nested environments: counted once
_LINES = re.compile(r"[^\n]*\n|[^\n]+$")  # physical lines as the tokenizer counts them


def triggers() -> tuple[str, ...]:
    """The engine's pre-filter words (imported lazily so ``--help`` stays fast)."""
    from tf_repro_migrate.rules import all_triggers

    return all_triggers()


def candidate_paths(root: Path) -> list[Path]:
    """Every plausible filler file under ``root``, sorted (so the choice is reproducible)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in filenames:
            if name.endswith(".py"):
                path = Path(dirpath, name)
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                if MIN_BYTES <= size <= MAX_BYTES and not path.is_symlink():
                    found.append(path)
    return sorted(found)


def usable(path: Path, banned: tuple[str, ...], pasta_safe: bool = False) -> str | None:
    """The file's text if it is good filler: UTF-8, Python 3, none of ``banned`` (and,
    with ``pasta_safe``, parsed by the ``pasta`` library ``tf_upgrade_v2`` is built on)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if "\0" in text or "\r" in text or any(word in text for word in banned):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if pasta_safe and not _pasta_parses(text):
        return None
    return text if text.endswith("\n") else text + "\n"


def _pasta_parses(text: str) -> bool:
    """``tf_upgrade_v2 --intree`` aborts the whole tree on the first file ``pasta`` cannot
    annotate (positional-only parameters, for one), so its tree holds only files it can."""
    try:
        import pasta  # installed with TensorFlow
    except ImportError:
        return True
    try:
        pasta.parse(text)
    except Exception:  # noqa: BLE001 - pasta raises many kinds of errors
        return False
    return True


def splice(filler: str, block: str) -> str:
    """``block`` inserted before the first top-level statement after the imports
    (and the docstring); appended when that would not parse."""
    body = ast.parse(filler).body
    line = None
    for i, stmt in enumerate(body):
        is_docstring = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) or is_docstring:
            continue
        decorators = getattr(stmt, "decorator_list", [])
        line = min([stmt.lineno, *(d.lineno for d in decorators)])
        break
    if line is not None:
        lines = _LINES.findall(filler)
        candidate = "".join(lines[: line - 1]) + "\n" + block + "\n\n" + "".join(lines[line - 1 :])
        try:
            ast.parse(candidate)
            return candidate
        except SyntaxError:
            pass
    return filler + "\n\n" + block


def prepare_out(out: Path) -> None:
    """Create OUT, or empty it if this script made it; refuse anything else."""
    if out.exists():
        if not out.is_dir():
            sys.exit(f"{out}: exists and is not a directory")
        if any(out.iterdir()):
            if not (out / MARKER).exists():
                sys.exit(f"{out}: not empty and not a generated tree; refusing to touch it")
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by bench/generate_tree.py\n")


def notebook(text: str, rng: random.Random) -> str:
    """A Jupyter notebook (nbformat 4) made of ``text``: a markdown cell, a cell of IPython
    magics, then the code cut into up to six cells at top-level statement boundaries."""
    lines = _LINES.findall(text)
    starts = sorted({min([s.lineno, *(d.lineno for d in getattr(s, "decorator_list", []))])
                     for s in ast.parse(text).body})
    cuts = sorted(rng.sample(starts[1:], min(5, max(0, len(starts) - 1))))
    bounds = [1, *cuts, len(lines) + 1]

    def code(source: str) -> dict[str, object]:
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": _LINES.findall(source)}

    cells: list[dict[str, object]] = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Experiment\n", "\n", "Generated notebook."]},
        code("%matplotlib inline\n!nvidia-smi\n"),
    ]
    for first, end in zip(bounds, bounds[1:]):
        source = "".join(lines[first - 1:end - 1]).rstrip("\n")
        if source.strip():
            cells.append(code(source))
    document = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                             "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1) + "\n"


def generate(out: Path, files: int, match_fraction: float, seed: int, no_match: bool,
             source_root: Path | None = None, pasta_safe: bool = False, notebooks: int = 0) -> dict[str, int]:
    """Write the tree; returns counts (files, with boilerplate, per template). ``notebooks``
    more entries are written as ``.ipynb`` notebooks (the same share with boilerplate)."""
    rng = random.Random(seed)
    banned = triggers() if no_match else ()
    roots = [source_root] if source_root else [Path(sysconfig.get_paths()[k]) for k in ("purelib", "stdlib")]
    pool: list[Path] = []
    for root in roots:  # site-packages first; the standard library when it runs out
        found = candidate_paths(root)
        rng.shuffle(found)
        pool.extend(found)
    prepare_out(out)
    names = sorted(TEMPLATES)
    counts: dict[str, int] = {"files": 0, "with_boilerplate": 0}
    total = files + notebooks
    matching = set() if no_match else set(rng.sample(range(total), round(total * match_fraction)))
    source = iter(pool)
    used: list[Path] = []
    for index in range(total):
        text = None
        for path in source:
            text = usable(path, banned, pasta_safe)
            if text is not None:
                used.append(path)
                break
        if text is None:  # every usable file taken: reuse them, in the same order
            if not used:
                sys.exit("no usable filler files found")
            text = usable(used[index % len(used)], banned, pasta_safe)
        if index in matching:
            for name in rng.sample(names, rng.choice((1, 1, 2))):
                text = splice(text, render(name, rng))
                counts[name] = counts.get(name, 0) + 1
            counts["with_boilerplate"] += 1
        if index < files:
            target = out / f"pkg{index // FILES_PER_DIR:03d}" / f"mod{index:05d}.py"
        else:
            target = out / f"notebooks{(index - files) // FILES_PER_DIR:03d}" / f"nb{index - files:05d}.ipynb"
            text = notebook(text, rng)
            counts["notebooks"] = counts.get("notebooks", 0) + 1
        target.parent.mkdir(exist_ok=True)
        target.write_text(text, encoding="utf-8")
        counts["files"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output directory (created; only a generated tree is replaced)")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--match-fraction", type=float, default=0.07, help="share of files with boilerplate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-match", action="store_true", help="no boilerplate, no trigger word anywhere")
    parser.add_argument("--notebooks", type=int, default=0, help="also write this many .ipynb notebooks")
    parser.add_argument("--tf-upgrade-safe", action="store_true",
                        help="only filler that tf_upgrade_v2's parser (pasta) handles, so it can run on the tree")
    args = parser.parse_args(argv)
    counts = generate(args.out.resolve(), args.files, args.match_fraction, args.seed, args.no_match,
                      pasta_safe=args.tf_upgrade_safe, notebooks=args.notebooks)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
