"""Command line: argument parsing and output only; the rewriting lives in engine.py.

Exit codes:
  0  nothing left to do: no file would change (or every change was written), no unsafe
     fix was held back and no manual finding remains;
  1  work remains: a file would change (diff mode, ``--check``), or (except with
     ``--check``) unsafe fixes were held back or manual findings remain;
  2  a file could not be processed, or bad usage. 2 wins over 1.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import Sequence, TextIO

from tf_repro_migrate import __version__
from tf_repro_migrate.context import Options
from tf_repro_migrate.discover import discover
from tf_repro_migrate.findings import Safety
from tf_repro_migrate.interactive import run_interactive
from tf_repro_migrate.pipeline import FileResult, Job, run
from tf_repro_migrate.progress import Progress
from tf_repro_migrate.report import RunReport, format_for
from tf_repro_migrate.report import render as render_report
from tf_repro_migrate.workers import DEFAULT_TIMEOUT

EXIT_OK, EXIT_WORK_REMAINS, EXIT_ERROR = 0, 1, 2
EXPLICIT_FILES_POOL_THRESHOLD = 64


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tf-repro-migrate",
        description="Rewrite TF1 / standalone-Keras reproducibility boilerplate into TensorFlow 2 / Keras 3 idioms. "
        "Shows diffs and findings; writes nothing unless --write. "
        "`tf-repro-migrate verify SCRIPT` checks that a script trains reproducibly.",
        epilog="exit codes: 0 nothing left to do, 1 changes needed or findings remain, 2 errors or bad usage",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to migrate")
    parser.add_argument("--write", action="store_true", help="apply the safe fixes in place")
    parser.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes that may change behaviour")
    parser.add_argument("--check", action="store_true", help="only list files that would change; exit 1 if any")
    parser.add_argument("--only", action="append", default=[], metavar="CODES",
                        help="run only these rule codes or prefixes (comma-separated, repeatable)")
    parser.add_argument("--skip", action="append", default=[], metavar="CODES", help="skip these rule codes")
    parser.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip files/directories matching GLOB (repeatable; virtualenvs, .git, build dirs "
                        "are always skipped)")
    parser.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                        help="worker processes (default: all cores, used only for larger trees)")
    parser.add_argument("--timeout-per-file", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"give up on a file after this long (default {DEFAULT_TIMEOUT:g}; 0: no limit)")
    parser.add_argument("--keras-target", choices=("keras", "tf.keras"), default="keras",
                        help="emit keras.utils.set_random_seed (Keras 3, default) or tf.keras.utils.set_random_seed")
    parser.add_argument("--format", "--output-format", dest="format", choices=("text", "json", "sarif"),
                        default="text", help="text (diffs and findings), or a JSON / SARIF 2.1.0 report on stdout")
    parser.add_argument("--report", metavar="FILE",
                        help="also write the report to FILE (format from --format, else from the extension: "
                        ".sarif or .json) while the terminal shows the text output")
    parser.add_argument("--interactive", action="store_true",
                        help="show each change and ask apply / skip / apply all / quit before writing")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary line")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _codes(values: Sequence[str]) -> frozenset[str]:
    return frozenset(c.strip().upper() for v in values for c in v.split(",") if c.strip())


def list_rules(out: TextIO) -> None:
    from tf_repro_migrate.rules import all_rules

    for rule in all_rules():
        out.write(f"{rule.code}  {rule.name:<22} {rule.safety.value:<7} {rule.summary}\n")


class _Style:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def diff(self, text: str) -> str:
        if not self.enabled:
            return text
        out = []
        for line in text.splitlines(keepends=True):
            if line.startswith(("+++", "---")):
                out.append(self(line.rstrip("\n"), "1") + "\n")
            elif line.startswith("+"):
                out.append(self(line.rstrip("\n"), "32") + "\n")
            elif line.startswith("-"):
                out.append(self(line.rstrip("\n"), "31") + "\n")
            elif line.startswith("@@"):
                out.append(self(line.rstrip("\n"), "36") + "\n")
            else:
                out.append(line)
        return "".join(out)


def _tag(f_safety: Safety, applied: bool, unsafe_enabled: bool) -> str:
    if f_safety is Safety.MANUAL:
        return "manual"
    if applied:
        return f"{f_safety.value} fix"
    return "unsafe fix held back" if f_safety is Safety.UNSAFE and not unsafe_enabled else f"{f_safety.value}"


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["verify"]:
        from tf_repro_migrate.verify.cli import main as verify_main

        return verify_main(args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code not in (0, None) else EXIT_OK
    out, err = sys.stdout, sys.stderr
    if args.list_rules:
        list_rules(out)
        return EXIT_OK
    if not args.paths:
        parser.print_usage(err)
        err.write("tf-repro-migrate: error: give at least one PATH (file or directory)\n")
        return EXIT_ERROR
    if args.jobs < 0:
        err.write("tf-repro-migrate: error: --jobs must be >= 0\n")
        return EXIT_ERROR
    from tf_repro_migrate.rules import all_rules

    known = {r.code for r in all_rules()}
    for code in _codes(args.only) | _codes(args.skip):
        if not any(k.startswith(code) for k in known):
            err.write(f"tf-repro-migrate: error: unknown rule code {code!r} (see --list-rules)\n")
            return EXIT_ERROR
    options = Options(
        unsafe_fixes=args.unsafe_fixes,
        select=_codes(args.only) or None,
        ignore=_codes(args.skip),
        keras_target=args.keras_target,
    )
    color = args.color == "always" or (
        args.color == "auto" and out.isatty() and "NO_COLOR" not in os.environ
    )
    style = _Style(color)
    missing = [p for p in args.paths if not os.path.lexists(p)]
    present = [p for p in args.paths if p not in missing]
    files = list(discover(present, args.exclude))
    jobs = args.jobs or (os.cpu_count() or 1)
    # An explicit list of files (pre-commit) is already split across processes by the caller.
    threshold = EXPLICIT_FILES_POOL_THRESHOLD if all(os.path.isfile(p) for p in present) else None
    text_out = args.format == "text"
    mode = "check" if args.check else "write" if args.write or args.interactive else "diff"
    report = RunReport(mode, missing=missing)
    counts = {"scanned": 0, "skipped": 0, "changed": 0, "held_back": 0, "manual": 0, "failed": 0}
    for path in missing:
        err.write(f"{path}: error: no such file or directory\n")
        counts["failed"] += 1
    if args.interactive:
        results = run_interactive(files, options, sys.stdin, out, lambda d: out.write(style.diff(d)))
    else:
        results = run(files, Job(options, write=args.write), jobs=jobs, timeout=args.timeout_per_file or None,
                      **({"pool_threshold": threshold} if threshold else {}))
    progress = Progress(err, len(files), enabled=err.isatty() and not args.quiet)
    for result in results:
        if text_out and (result.findings or result.diff or result.status == "error" or result.problems):
            progress.clear()
        _print_result(result, args, style, out if text_out else _NULL, err)
        progress.update(result.changed)
        if args.format != "text" or args.report:
            report.files.append(result)
        counts["scanned"] += 1
        counts["skipped"] += result.status == "skipped"
        counts["changed"] += result.changed
        counts["held_back"] += result.held_back
        counts["manual"] += result.manual
        counts["failed"] += (result.status == "error") + len(result.problems)
    progress.close()
    report.summary = dict(counts)
    verb = "changed" if args.write or args.interactive else "would change"
    summary = (
        f"{counts['scanned']} files scanned, {counts['skipped']} skipped by the pre-filter, "
        f"{counts['changed']} {verb}, {counts['held_back']} unsafe fixes held back, "
        f"{counts['manual']} manual findings, {counts['failed']} failed"
    )
    if not text_out:
        out.write(render_report(report, args.format))
        err.write(summary + "\n")
    elif args.check:
        err.write(summary + "\n")
    else:
        out.write(summary + "\n")
    if args.report:
        try:
            Path(args.report).write_text(render_report(report, format_for(args.report, args.format)))
        except OSError as exc:
            err.write(f"{args.report}: error: cannot write report: {exc.strerror or exc}\n")
            return EXIT_ERROR
    if counts["failed"]:
        return EXIT_ERROR
    if args.check:
        return EXIT_WORK_REMAINS if counts["changed"] and not args.write else EXIT_OK
    written = args.write or args.interactive
    if (counts["changed"] and not written) or counts["held_back"] or counts["manual"]:
        return EXIT_WORK_REMAINS
    return EXIT_OK


class _Null(io.StringIO):
    def write(self, s: str) -> int:
        return len(s)


_NULL = _Null()


def _print_result(result: FileResult, args: argparse.Namespace, style: _Style, out: TextIO, err: TextIO) -> None:
    if result.status == "error":
        err.write(f"{result.path}: error: {result.error}\n")
        return
    for problem in result.problems:
        err.write(f"{result.path}:{problem.replace(': ', ': error: ', 1)}\n")
    if args.check:
        if result.changed:
            out.write(f"{result.path}\n")
        return
    if args.quiet:
        return
    if result.diff and not args.write and not args.interactive:
        out.write(style.diff(result.diff))
    for f in result.findings:
        tag = _tag(f.safety, f.applied, args.unsafe_fixes)
        where = f"cell {f.cell}:line {f.line}:col {f.col}" if f.cell is not None else f"{f.line}:{f.col}"
        out.write(f"{result.path}:{where} {style(f.code, '1')} [{tag}] {f.message}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
