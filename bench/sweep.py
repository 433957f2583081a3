"""Robustness sweep: run the migration (diff mode, nothing written) over every ``.py``
file of the standard library and of the installed site-packages.

Usage::

    python bench/sweep.py [--stdlib] [--site-packages] [--sample N] [--jobs N]
                          [--unsafe-fixes] [--samples-per-rule 5] [--json]

(no ``--stdlib`` / ``--site-packages`` means both). For each file it counts:

* crashes: an exception escaping the engine. A file that does not decode or parse is
  a reported error (the CLI names it and goes on), not a crash;
* files changed, per rule code whose fix was applied, and findings per rule code;
* for every changed file: the output must parse (libcst, and ``ast`` when the input
  did) and a second run over the output must change nothing.

It prints a report with a sample of changed files per rule for a reviewer to look at,
and exits 1 when there was a crash, an output that does not parse, or a second run
that changed something.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import sys
import sysconfig
import traceback
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import libcst as cst

from tf_repro_migrate.engine import Options, migrate_source
from tf_repro_migrate.fileio import SourceError, read_source
from tf_repro_migrate.pipeline import decode

_SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages"}  # a nested environment is not the stdlib


@dataclass
class FileOutcome:
    """What happened to one file; plain data so it travels back from a worker."""

    path: str
    status: str  # "skipped" | "unchanged" | "changed" | "error" | "crash"
    detail: str = ""  # the error reason or the crash traceback
    applied: list[str] = field(default_factory=list)  # rule codes whose fixes were applied
    findings: list[str] = field(default_factory=list)  # every finding's rule code
    output_parses: bool = True
    idempotent: bool = True


@dataclass
class SweepReport:
    files: int = 0
    skipped: int = 0
    unchanged: int = 0
    changed: int = 0
    errors: int = 0
    crashes: list[FileOutcome] = field(default_factory=list)
    bad_output: list[str] = field(default_factory=list)
    not_idempotent: list[str] = field(default_factory=list)
    changed_per_rule: Counter[str] = field(default_factory=Counter)
    findings_per_rule: Counter[str] = field(default_factory=Counter)
    changed_files: dict[str, list[str]] = field(default_factory=dict)  # rule code -> files
    error_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not (self.crashes or self.bad_output or self.not_idempotent)

    def add(self, outcome: FileOutcome) -> None:
        self.files += 1
        if outcome.status == "crash":
            self.crashes.append(outcome)
            return
        if outcome.status == "error":
            self.errors += 1
            self.error_reasons[outcome.detail.split(":", 1)[0].split("(", 1)[0].strip()] += 1
            return
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        self.findings_per_rule.update(outcome.findings)
        if outcome.status == "changed":
            for code in sorted(set(outcome.applied)):
                self.changed_per_rule[code] += 1
                self.changed_files.setdefault(code, []).append(outcome.path)
            if not outcome.output_parses:
                self.bad_output.append(outcome.path)
            if not outcome.idempotent:
                self.not_idempotent.append(outcome.path)


def python_files(root: Path) -> list[Path]:
    """Every ``.py`` under ``root``, sorted, not following symlinked directories."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        found.extend(Path(dirpath, name) for name in filenames if name.endswith(".py"))
    return sorted(found)


def stdlib_files() -> list[Path]:
    return python_files(Path(sysconfig.get_paths()["stdlib"]))


def site_packages_files() -> list[Path]:
    roots = dict.fromkeys(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib"))
    return sorted({p for root in roots for p in python_files(root)})


def sample(paths: list[Path], count: int | None, seed: int = 0) -> list[Path]:
    """A deterministic sample of ``count`` paths (all of them when ``count`` is None)."""
    if count is None or count >= len(paths):
        return paths
    return sorted(random.Random(seed).sample(paths, count))


def check_file(path: Path, options: Options) -> FileOutcome:
    """Migrate one file in memory and check the output; never raises."""
    name = str(path)
    try:
        try:
            text, _ = decode(read_source(path))
            result = migrate_source(text, options)
        except SourceError as exc:
            return FileOutcome(name, "error", str(exc))
        except cst.ParserSyntaxError as exc:
            return FileOutcome(name, "error", f"does not parse: {str(exc.message).splitlines()[0][:100]}")
        except RecursionError:
            return FileOutcome(name, "error", "too deeply nested to parse")
        if result.skipped:
            return FileOutcome(name, "skipped")
        outcome = FileOutcome(name, "changed" if result.changed else "unchanged",
                              applied=[f.code for f in result.findings if f.applied],
                              findings=[f.code for f in result.findings])
        if result.changed:
            outcome.output_parses = _parses(result.new, also_ast=_parses_ast(text))
            if outcome.output_parses:
                outcome.idempotent = migrate_source(result.new, options).new == result.new
        return outcome
    except Exception:  # noqa: BLE001 - this is what the sweep is looking for
        return FileOutcome(name, "crash", traceback.format_exc(limit=12))


def _parses_ast(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _parses(text: str, also_ast: bool) -> bool:
    try:
        cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError):
        return False
    return _parses_ast(text) if also_ast else True


def _check_many(args: tuple[list[Path], Options]) -> list[FileOutcome]:
    paths, options = args
    return [check_file(path, options) for path in paths]


def sweep(paths: Iterable[Path], options: Options | None = None, jobs: int = 0) -> SweepReport:
    """Check every path (in a process pool when ``jobs`` != 1) and collect the report."""
    options = options or Options()
    files = list(paths)
    jobs = jobs or os.cpu_count() or 1
    report = SweepReport()
    if jobs == 1:
        for path in files:
            report.add(check_file(path, options))
        return report
    chunks = [files[i : i + 32] for i in range(0, len(files), 32)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for outcomes in pool.map(_check_many, ((chunk, options) for chunk in chunks)):
            for outcome in outcomes:
                report.add(outcome)
    return report


def print_report(title: str, report: SweepReport, per_rule: int) -> None:
    print(f"== {title}")
    print(f"files {report.files}: skipped by the pre-filter {report.skipped}, unchanged {report.unchanged}, "
          f"changed {report.changed}, errors {report.errors}, crashes {len(report.crashes)}")
    print(f"changed outputs that do not parse: {len(report.bad_output)}; second run changed something: "
          f"{len(report.not_idempotent)}")
    if report.error_reasons:
        print("errors (reported, not crashes): " + ", ".join(f"{k} x{v}" for k, v in report.error_reasons.most_common()))
    if report.findings_per_rule:
        print("findings per rule: " + ", ".join(f"{k} {v}" for k, v in sorted(report.findings_per_rule.items())))
    if report.changed_per_rule:
        print("files changed per rule: " + ", ".join(f"{k} {v}" for k, v in sorted(report.changed_per_rule.items())))
    for code, files in sorted(report.changed_files.items()):
        print(f"  {code}: e.g.")
        for path in sample([Path(p) for p in files], per_rule):
            print(f"    {path}")
    for crash in report.crashes:
        print(f"CRASH {crash.path}\n{crash.detail}")
    for path in report.bad_output:
        print(f"OUTPUT DOES NOT PARSE {path}")
    for path in report.not_idempotent:
        print(f"NOT IDEMPOTENT {path}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stdlib", action="store_true", help="sweep the standard library")
    parser.add_argument("--site-packages", action="store_true", help="sweep the installed site-packages")
    parser.add_argument("--sample", type=int, help="check a deterministic sample of N files per tree")
    parser.add_argument("--jobs", "-j", type=int, default=0, help="worker processes (default: all cores)")
    parser.add_argument("--unsafe-fixes", action="store_true", help="apply the unsafe fixes too")
    parser.add_argument("--samples-per-rule", type=int, default=5, help="changed files listed per rule")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)
    trees = []
    if args.stdlib or not args.site_packages:
        trees.append(("standard library", stdlib_files))
    if args.site_packages or not args.stdlib:
        trees.append(("site-packages", site_packages_files))
    options = Options(unsafe_fixes=args.unsafe_fixes)
    ok = True
    results = {}
    for title, finder in trees:
        report = sweep(sample(finder(), args.sample), options, args.jobs)
        ok = ok and report.ok
        if args.json:
            results[title] = {**asdict(report), "crashes": [asdict(c) for c in report.crashes]}
        else:
            print_report(title, report, args.samples_per_rule)
    if args.json:
        print(json.dumps(results, indent=2, default=list))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
