"""Command line: argument parsing and output only; the rewriting lives in engine.py.

Exit codes:
  0  nothing left to do: no file would change (or every change was written), no unsafe
     fix was held back and no manual finding remains;
  1  work remains: a file would change (diff mode, ``--check``), or (except with
     ``--check``) unsafe fixes were held back or manual findings remain;
  2  a file could not be processed, bad usage, or an internal error. 2 wins over 1.
  130 / 141  interrupted (Ctrl-C) / standard output closed (``| head``), quietly.

With ``--pre-commit`` (the hooks in .pre-commit-hooks.yaml) manual findings and held-back
fixes are printed as ``path:line:col`` lines but never fail: the fix hook fails only when it
changed a file (1) or a file failed (2), the check hook only when a file would change.
``-`` reads standard input and writes the migrated source to standard output (exit 0, or
2 with the source unchanged when it cannot be migrated).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence, TextIO

from tf_repro_migrate import __version__
from tf_repro_migrate.context import Options
from tf_repro_migrate.discover import discover
from tf_repro_migrate.fileio import remove_stale_temps, write_atomic
from tf_repro_migrate.findings import Finding, Safety
from tf_repro_migrate.interactive import run_interactive
from tf_repro_migrate.pipeline import FileResult, Job, StdinSource, run
from tf_repro_migrate.progress import Progress
from tf_repro_migrate.report import RunReport, format_for
from tf_repro_migrate.report import render as render_report
from tf_repro_migrate.workers import DEFAULT_TIMEOUT, WorkerPool

EXIT_OK, EXIT_WORK_REMAINS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # the shell's 128 + SIGINT / SIGPIPE
EXPLICIT_FILES_POOL_THRESHOLD = 64


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tf-repro-migrate",
        usage="%(prog)s [options] PATH ...\n       %(prog)s [options] - [--stdin-filename NAME]\n"
        "       %(prog)s verify SCRIPT [verify options]   (see: %(prog)s verify --help)",
        description="Rewrite TF1 / standalone-Keras reproducibility boilerplate into TensorFlow 2 / Keras 3 idioms. "
        "Shows diffs and findings; writes nothing unless --write.",
        epilog="commands:\n  verify SCRIPT   train SCRIPT several times in fresh processes and check the runs are "
        "bitwise identical\n                  (a directory named verify is migrated as ./verify)\n\n"
        "exit codes: 0 nothing left to do, 1 changes needed or findings remain, 2 errors or bad usage, "
        "130 interrupted",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories to migrate; - reads standard input and writes the result to "
                        "standard output")
    parser.add_argument("--stdin-filename", metavar="NAME",
                        help="with -: the file name to use in messages (a name ending .ipynb reads a notebook)")
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
    parser.add_argument("--pre-commit", action="store_true",
                        help="for pre-commit hooks: write the safe fixes (with --check: only report), print "
                        "remaining findings as path:line:col lines, fail only when a file changed or failed")
    parser.add_argument("--interactive", action="store_true",
                        help="show each change and ask apply / skip / apply all / quit before writing")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary line")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the traceback of an internal error")
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


class _Terminated(BaseException):
    """SIGTERM / SIGHUP: stop like Ctrl-C (workers stopped, temporary files removed)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated(signum)


@contextlib.contextmanager
def _stop_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP raise _Terminated in the main thread while the run lasts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, _raise_terminated) for s in sigs}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: parse, run, summarise, exit code. Never raises (bar SystemExit)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["verify"]:
        from tf_repro_migrate.verify.cli import main as verify_main

        return verify_main(args_list[1:])
    err = sys.stderr
    verbose = any(a in ("-v", "--verbose") for a in args_list)
    try:
        with _stop_on_termination():
            args = parse(args_list, err)
            if isinstance(args, int):
                return args
            tally, report = run_migration(args, sys.stdout, err)
            return summarise(args, tally, report, sys.stdout, err)
    except KeyboardInterrupt:
        err.write("tf-repro-migrate: interrupted\n")
        return EXIT_INTERRUPTED
    except _Terminated as exc:
        return 128 + exc.signum
    except BrokenPipeError:  # `tf-repro-migrate ... | head`: the reader has all it wanted
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug: one line, exit 2 (never 1, which would mean "changes needed")
        if verbose:
            import traceback

            traceback.print_exc(file=err)
        first = str(exc).splitlines()[0] if str(exc) else ""
        err.write(f"tf-repro-migrate: internal error: {type(exc).__name__}: {first}"
                  f"{'' if verbose else ' (run with --verbose for the traceback)'}\n")
        return EXIT_ERROR


def parse(args_list: list[str], err: TextIO) -> argparse.Namespace | int:
    """The parsed options, or the exit code when there is nothing to run (help, usage errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code not in (0, None) else EXIT_OK
    if args.list_rules:
        list_rules(sys.stdout)
        return EXIT_OK
    problem = usage_problem(args)
    if problem:
        parser.print_usage(err)
        err.write(f"tf-repro-migrate: error: {problem}\n")
        return EXIT_ERROR
    if args.pre_commit and not args.check:
        args.write = True
    return args


def usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of options, or None."""
    stdin = "-" in args.paths
    text_format = args.format == "text"
    checks: list[tuple[bool, str]] = [
        (not args.paths, "give at least one PATH (file or directory), or - for standard input"),
        (args.check and args.write, "--check and --write contradict each other (--check never writes)"),
        (args.interactive and args.check, "--interactive and --check contradict each other"),
        (args.interactive and not text_format, f"--interactive cannot produce --format {args.format}"),
        (args.interactive and args.pre_commit, "--interactive and --pre-commit contradict each other"),
        (args.pre_commit and not text_format, "--pre-commit prints text; drop --format"),
        (bool(args.report) and text_format and not args.report.endswith((".json", ".sarif")),
         f"--report {args.report}: reports are JSON or SARIF; name the file .json or .sarif, "
         "or give --format json|sarif"),
        (stdin and len(args.paths) > 1, "- (standard input) cannot be combined with other paths"),
        (stdin and (args.write or args.check or args.interactive or args.pre_commit),
         "- (standard input) writes the migrated source to standard output; "
         "it takes no --write, --check, --interactive or --pre-commit"),
        (stdin and (not text_format or bool(args.report)), "- (standard input) takes no --format or --report"),
        (args.stdin_filename is not None and not stdin, "--stdin-filename needs - (standard input) as the PATH"),
        (args.jobs < 0, "--jobs must be >= 0"),
        (args.timeout_per_file < 0, "--timeout-per-file must be >= 0"),
    ]
    for bad, message in checks:
        if bad:
            return message
    from tf_repro_migrate.rules import all_rules

    known = {r.code for r in all_rules()}
    for code in sorted(_codes(args.only) | _codes(args.skip)):
        if not any(k.startswith(code) for k in known):
            return f"unknown rule code {code!r} (see --list-rules)"
    return None


@dataclass
class Tally:
    """The counts of the summary line."""

    scanned: int = 0
    skipped: int = 0
    changed: int = 0
    held_back: int = 0
    manual: int = 0
    failed: int = 0

    def add(self, result: FileResult) -> None:
        self.scanned += 1
        self.skipped += result.status == "skipped"
        self.changed += result.changed
        self.held_back += result.held_back
        self.manual += result.manual
        self.failed += (result.status == "error") + len(result.problems)


def _options(args: argparse.Namespace) -> Options:
    return Options(
        unsafe_fixes=args.unsafe_fixes,
        select=_codes(args.only) or None,
        ignore=_codes(args.skip),
        keras_target=args.keras_target,
    )


def run_migration(args: argparse.Namespace, out: TextIO, err: TextIO) -> tuple[Tally, RunReport]:
    """Process every file, printing each result as it comes; the counts and the report."""
    options = _options(args)
    if args.paths == ["-"]:
        return _run_stdin(args, options, out, err)
    style = _Style(args.color == "always" or (args.color == "auto" and out.isatty() and "NO_COLOR" not in os.environ))
    missing = [p for p in args.paths if not os.path.lexists(p)]
    present = [p for p in args.paths if p not in missing]
    if args.write:
        # temporary files of runs killed while writing (their process is gone)
        for directory in {Path(p).parent for p in present if not os.path.isdir(p)}:
            remove_stale_temps(directory)
    files = list(discover(present, args.exclude, on_directory=remove_stale_temps if args.write else None))
    jobs = args.jobs or (os.cpu_count() or 1)
    # An explicit list of files (pre-commit) is already split across processes by the caller.
    threshold = EXPLICIT_FILES_POOL_THRESHOLD if all(os.path.isfile(p) for p in present) else None
    text_out = args.format == "text"
    mode = "check" if args.check else "write" if args.write or args.interactive else "diff"
    report = RunReport(mode, missing=missing)
    tally = Tally()
    for path in missing:
        err.write(f"{path}: error: no such file or directory\n")
        tally.failed += 1
    if args.interactive:
        def show(diff: str) -> None:
            out.write(style.diff(diff))

        results = run_interactive(files, options, sys.stdin, out, show)
    else:
        job = Job(options, write=args.write, fix_details=not text_out or bool(args.report))
        results = run(files, job, jobs=jobs, timeout=args.timeout_per_file or None,
                      **({"pool_threshold": threshold} if threshold else {}))
    progress = Progress(err, len(files), enabled=err.isatty() and not args.quiet)
    share_terminal = out.isatty() and err.isatty()  # result lines would land on the bar's line
    try:
        for result in results:
            if share_terminal and text_out and _prints_something(result, args):
                progress.clear()
            _print_result(result, args, style, out if text_out else _NULL, err)
            progress.update(result.changed)
            if not text_out or args.report:
                report.files.append(result)
            tally.add(result)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stop the workers now, also on Ctrl-C or a closed pipe
    progress.close()
    return tally, report


def _run_stdin(args: argparse.Namespace, options: Options, out: TextIO, err: TextIO) -> tuple[Tally, RunReport]:
    """``tf-repro-migrate -``: the migrated source on stdout (unchanged when it cannot be
    migrated, so an editor never loses the buffer), findings and errors on stderr."""
    name = args.stdin_filename or "<stdin>"
    data = sys.stdin.buffer.read()
    job = Job(_options(args))
    result = next(iter(WorkerPool(job, 1, args.timeout_per_file or None).map([StdinSource(name, data)])))
    output = result.output if result.output is not None else data
    out.flush()
    out.buffer.write(output)
    out.flush()
    tally = Tally()
    tally.add(result)
    _print_result(result, args, _Style(False), err, err, diff=False)
    return tally, RunReport("stdin")


def _prints_something(result: FileResult, args: argparse.Namespace) -> bool:
    if result.status == "error" or result.problems:
        return True
    if args.check:
        return result.changed
    return not args.quiet and bool(result.findings or result.diff)


def summarise(args: argparse.Namespace, tally: Tally, report: RunReport, out: TextIO, err: TextIO) -> int:
    """Print the summary line, write ``--report``; the exit code."""
    report.summary = dataclasses.asdict(tally)
    stdin = args.paths == ["-"]
    verb = "changed" if args.write or args.interactive else "would change"
    summary = (
        f"{tally.scanned} files scanned, {tally.skipped} skipped by the pre-filter, "
        f"{tally.changed} {verb}, {tally.held_back} unsafe fixes held back, "
        f"{tally.manual} manual findings, {tally.failed} failed"
    )
    if args.format != "text":
        out.write(render_report(report, args.format))
        err.write(summary + "\n")
    elif args.check or stdin or args.pre_commit:
        if not (stdin or args.quiet) or tally.failed:
            err.write(summary + "\n")
    else:
        out.write(summary + "\n")
    if args.report:
        try:
            write_atomic_new(Path(args.report), render_report(report, format_for(args.report, args.format)))
        except OSError as exc:
            err.write(f"{args.report}: error: cannot write report: {exc.strerror or exc}\n")
            return EXIT_ERROR
    return exit_code(args, tally)


def exit_code(args: argparse.Namespace, tally: Tally) -> int:
    """2: a file failed; 1: work remains (see the module docstring); 0 otherwise."""
    if tally.failed:
        return EXIT_ERROR
    if args.paths == ["-"]:
        return EXIT_OK
    if args.check:
        return EXIT_WORK_REMAINS if tally.changed else EXIT_OK
    if args.pre_commit:  # manual findings are printed but never block a commit
        return EXIT_WORK_REMAINS if tally.changed else EXIT_OK
    written = args.write or args.interactive
    if (tally.changed and not written) or tally.held_back or tally.manual:
        return EXIT_WORK_REMAINS
    return EXIT_OK


def write_atomic_new(path: Path, text: str) -> None:
    """Write a report: replace it atomically when it exists, create it otherwise."""
    if path.exists():
        write_atomic(path, text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")


class _Null(io.StringIO):
    def write(self, s: str) -> int:
        return len(s)


_NULL = _Null()


def _print_result(result: FileResult, args: argparse.Namespace, style: _Style, out: TextIO, err: TextIO,
                  diff: bool = True) -> None:
    if result.status == "error":
        err.write(f"{result.path}: error: {result.error}\n")
        return
    for problem in result.problems:
        err.write(f"{result.path}:{problem.replace(': ', ': error: ', 1)}\n")
    if args.pre_commit:
        # every line names path:line: the fixes (what made the hook fail), and the manual findings
        # and held-back fixes, which are shown but never fail it
        for f in result.findings:
            _print_finding(result, f, args, style, out)
        return
    if args.check:
        if result.changed:
            out.write(f"{result.path}\n")
        return
    if args.quiet:
        return
    if diff and result.diff and not args.write and not args.interactive:
        out.write(style.diff(result.diff))
    for f in result.findings:
        _print_finding(result, f, args, style, out)


def _print_finding(result: FileResult, f: Finding, args: argparse.Namespace, style: _Style, out: TextIO) -> None:
    tag = _tag(f.safety, f.applied, args.unsafe_fixes)
    where = f"cell {f.cell}:line {f.line}:col {f.col}" if f.cell is not None else f"{f.line}:{f.col}"
    out.write(f"{result.path}:{where} {style(f.code, '1')} [{tag}] {f.message}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
