"""Run the engine over files: read, migrate, diff, write; one result per file.

``process_file`` is what a worker does for one path, and returns only plain data
(no syntax trees), so results travel cheaply from worker processes and the parent
prints them in sorted order without interleaving. A process pool is used only when
there are enough files to pay for it (pre-commit passes a handful of files and
runs its own processes).
"""

from __future__ import annotations

import ast
import difflib
import gc
import io
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import libcst as cst

from tf_repro_migrate.docs import is_document, migrate_document
from tf_repro_migrate.engine import (
    Decide,
    Options,
    Result,
    analyse_module,
    choose,
    might_match,
    migrate_module,
    migrate_source,
    parse,
    render,
)
from tf_repro_migrate.fileio import SourceError, read_source, read_source_stat, write_atomic
from tf_repro_migrate.findings import Finding
from tf_repro_migrate.notebook import NotebookError, migrate_notebook
from tf_repro_migrate.prescreen import could_match_tree, python_ast
from tf_repro_migrate.workers import DEFAULT_TIMEOUT, WorkerPool

# Below this many files a pool costs more (start-up, imports) than it saves.
POOL_THRESHOLD = 16
# A syntax tree and its scope analysis are hundreds of thousands of objects; with the default
# thresholds the cyclic garbage collector ran so often that it took a quarter of a run's time on
# a large tree. Collected ten times less often, the garbage between collections stays bounded
# (peak memory still does not grow with the number of files: bench/README.md).
GC_THRESHOLDS = (100_000, 50, 100)
# Larger files are refused before parsing: libcst needs about 400 bytes of memory per byte of
# source (a 50 MB file ran a machine out of its 23 GB), and no hand-written source is this big.
MAX_FILE_BYTES = 10 << 20


@dataclass
class FileResult:
    path: str
    status: str  # "skipped" | "unchanged" | "changed" | "written" | "error"
    error: str | None = None
    diff: str = ""
    findings: list[Finding] = field(default_factory=list)
    held_back: int = 0
    manual: int = 0
    problems: list[str] = field(default_factory=list)  # parts left as they were (notebook cells)
    output: bytes | None = None  # standard input mode: the new (or unchanged) source
    # with Job.fix_details: per finding (same order), the replacements of its fix applied alone
    fixes: list[list[Replacement] | None] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status in ("changed", "written")


_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)


@dataclass(frozen=True)
class Job:
    options: Options
    write: bool = False
    fix_details: bool = False  # compute each fix's replacements (JSON / SARIF reports)


@dataclass(frozen=True)
class Replacement:
    """Lines ``start_line`` up to (not including) ``end_line`` of the old text become ``text``."""

    start_line: int
    end_line: int
    text: str


def line_replacements(old: str, new: str) -> list[Replacement]:
    """The line ranges of ``old`` that differ in ``new``, with their new text."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            out.append(Replacement(i1 + 1, i2 + 1, "".join(b[j1:j2])))
    return out


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) honouring a BOM or an encoding cookie, like the interpreter."""
    try:
        encoding, lines = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if _COOKIE.search(b"\n".join(data.splitlines()[:2])) is None:
            # no cookie: detect_encoding tried UTF-8 on the first lines and failed
            raise SourceError("not valid UTF-8 (no coding cookie)") from None
        raise SourceError(f"bad encoding declaration: {exc.msg}") from None
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        if encoding in ("utf-8", "utf-8-sig") and not any(_COOKIE.search(line) for line in lines):
            raise SourceError(f"not valid UTF-8 (no coding cookie): {exc.reason} at byte {exc.start}") from None
        raise SourceError(f"cannot decode as {encoding}: {exc.reason} at byte {exc.start}") from None
    except LookupError as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from None


def migrate_text(text: str, options: Options, fixes: list[list[Replacement] | None] | None = None,
                 decide: Decide | None = None) -> Result:
    """``engine.migrate_source``, except that CPython's own parser checks the text first and
    what it cannot compile never reaches libcst: deep nesting that CPython refuses ("too many
    nested parentheses") overflows the stack of libcst's native parser and kills the process,
    and what exhausts CPython's recursion limit takes libcst minutes. The Python syntax tree is
    the one the second pre-filter needs anyway, so this costs nothing on the usual path.
    With ``fixes`` (a list to fill), each finding's fix is also rendered alone and its line
    replacements appended, in the order of the findings. Raises SourceError with the one-line
    reason."""
    if not might_match(text):
        return Result(text, text, skipped=True)
    try:
        tree = python_ast(text)
    except SyntaxError as exc:
        raise SourceError(f"does not parse as Python 3 (line {exc.lineno}): {exc.msg}") from None
    except RecursionError:
        raise SourceError("too deeply nested to parse (Python's own parser gives up)") from None
    except MemoryError:  # CPython's parser reports a too deep nesting this way too
        raise SourceError("too deeply nested or too large to parse (Python's own parser ran out of memory)") from None
    except (ValueError, OverflowError) as exc:
        raise SourceError(f"does not parse as Python 3: {exc}") from None
    if not could_match_tree(tree):
        return Result(text, text, skipped=True)
    del tree  # the libcst tree is next; do not hold both
    try:
        module = parse(text)
    except cst.ParserSyntaxError as exc:
        raise SourceError(_syntax_reason(exc, text)) from None
    try:
        if fixes is None:
            return migrate_module(module, text, options, decide)
        return _migrate_with_fixes(module, text, options, fixes, decide)
    except RecursionError:
        raise SourceError("too deeply nested to migrate") from None


def _migrate_with_fixes(module: cst.Module, text: str, options: Options,
                        fixes: list[list[Replacement] | None], decide: Decide | None = None) -> Result:
    """``engine.migrate_module``, plus each fix rendered on its own (for the reports)."""
    analysis = analyse_module(module, text, options)
    accepted = choose(analysis, options, decide)
    new_text = render(analysis, accepted) if accepted else text
    for f in accepted:
        f.applied = True
    result = Result(text, new_text, analysis.findings)
    for f in result.findings:  # the visible ones, in the order the reports list them
        fixes.append(line_replacements(text, render(analysis, [f])) if f.edits else None)
    return result


def _syntax_reason(exc: cst.ParserSyntaxError, text: str) -> str:
    """A one-line reason; CPython's own message is the clearest when it has one."""
    try:
        compile(text, "<source>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as py_exc:
        return f"does not parse as Python 3 (line {py_exc.lineno}): {py_exc.msg}"
    except (ValueError, RecursionError, MemoryError):
        pass
    first = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
    return f"does not parse as Python 3 (line {exc.raw_line}): {first[:120]}"


def process_file(path: Path, job: Job, decide: Decide | None = None) -> FileResult:
    """Migrate one file; never raises for a bad file (the error is in the result).

    ``decide`` (in-process only: ``--interactive``) is asked before each change of a ``.py``
    file is taken; what it accepts is written exactly as ``--write`` writes."""
    name = str(path)
    try:
        data, st = read_source_stat(path)
        out, new_data = process_data(name, data, job.options, notebook=path.suffix == ".ipynb",
                                     fix_details=job.fix_details,
                                     document=path.suffix if is_document(path) else None, decide=decide)
        if job.write and new_data is not None:
            try:
                write_atomic(path, new_data, expected=st)
            except OSError as exc:
                raise SourceError(f"cannot write: {exc.strerror or exc}") from None
            out.status = "written"
        return out
    except SourceError as exc:
        return FileResult(name, "error", error=str(exc))


def process_data(name: str, data: bytes, options: Options, notebook: bool = False,
                 fix_details: bool = False, document: str | None = None,
                 decide: Decide | None = None) -> tuple[FileResult, bytes | None]:
    """The result for one file's bytes, and its new bytes when it changes (None otherwise).
    ``document`` is the suffix of a Markdown / reST document. Raises SourceError for a file
    that cannot be processed."""
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"too large to migrate ({len(data) / (1 << 20):.1f} MB; "
                          f"the limit is {MAX_FILE_BYTES >> 20} MB per file)")
    if notebook:
        return _process_notebook(name, data, options)
    if document is not None:
        return _process_document(name, data, options, document)
    text, encoding = decode(data)
    fixes: list[list[Replacement] | None] | None = [] if fix_details else None
    result = migrate_text(text, options, fixes, decide)
    if result.skipped:
        return FileResult(name, "skipped"), None
    findings = [_plain(f) for f in result.findings]
    out = FileResult(name, "unchanged", findings=findings, held_back=result.held_back, manual=result.manual,
                     fixes=fixes or [])
    if not result.changed:
        return out, None
    new_data = result.new.encode(encoding)
    if new_data == data:
        return out, None
    out.diff = unified_diff(name, result.old, result.new)
    out.status = "changed"
    return out, new_data


@dataclass(frozen=True)
class StdinSource:
    """Source text read from standard input, to migrate like a file called ``name``."""

    name: str
    data: bytes

    def __str__(self) -> str:
        return self.name


def process_stdin(name: str, data: bytes, job: Job) -> FileResult:
    """``process_data`` for text read from standard input; the new text is in ``output``."""
    try:
        out, new_data = process_data(name, data, job.options, notebook=name.endswith(".ipynb"))
    except SourceError as exc:
        return FileResult(name, "error", error=str(exc))
    out.output = data if new_data is None else new_data
    return out


def _process_notebook(name: str, data: bytes, options: Options) -> tuple[FileResult, bytes | None]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("not valid UTF-8 (a notebook is UTF-8 JSON)") from None
    if not text.strip():
        raise SourceError("empty notebook file")
    try:
        result = migrate_notebook(text, options)
    except NotebookError as exc:
        raise SourceError(str(exc)) from None
    except cst.ParserSyntaxError as exc:  # pragma: no cover - cells are parsed one by one first
        raise SourceError(f"does not parse: {exc.message}") from None
    except RecursionError:
        raise SourceError("too deeply nested to migrate") from None
    if result.skipped:
        return FileResult(name, "skipped"), None
    out = FileResult(name, "unchanged", findings=[_plain(f) for f in result.findings],
                     held_back=result.held_back, manual=result.manual, problems=result.cell_errors)
    if result.new_json == text:
        return out, None
    out.diff = "".join(unified_diff(f"{name}:cell {cell}", old, new) for cell, old, new in result.diffs)
    out.status = "changed"
    return out, result.new_json.encode("utf-8")


def _process_document(name: str, data: bytes, options: Options, suffix: str) -> tuple[FileResult, bytes | None]:
    """A Markdown or reST document: its Python code blocks (docs.py); the diff is of the whole document."""
    # Trigger words are ASCII: a document without any is skipped before it is decoded, so a
    # Latin-1 README with nothing to migrate is not an error.
    if not might_match(data.decode("latin-1")):
        return FileResult(name, "skipped"), None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode as utf-8: {exc.reason}") from None
    try:
        result = migrate_document(text, options, suffix)
    except RecursionError:  # each block parsed, but the program is too deep for the analysis
        raise SourceError("too deeply nested to migrate") from None
    out = FileResult(name, "skipped" if result.skipped else "unchanged", findings=[_plain(f) for f in result.findings],
                     held_back=result.held_back, manual=result.manual)
    if result.new_text == text:
        return out, None
    out.diff, out.status = unified_diff(name, text, result.new_text), "changed"
    return out, result.new_text.encode("utf-8")


def _plain(finding: Finding) -> Finding:
    """A copy without the syntax-tree edits (cheap to pickle, nothing to keep alive)."""
    return Finding(finding.code, finding.line, finding.col, finding.message, finding.safety, [], finding.applied,
                   finding.cell)


def unified_diff(name: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines)


def screen(path: Path) -> FileResult | None:
    """The result of a file the text pre-filter skips, or None when the file needs the engine
    (or has an error a worker will report)."""
    if path.suffix == ".ipynb":
        return None
    try:
        text, _ = decode(read_source(path))
    except SourceError:
        return None
    return None if might_match(text) else FileResult(str(path), "skipped")


def run(paths: Iterable[Path], job: Job, jobs: int = 1, pool_threshold: int = POOL_THRESHOLD,
        timeout: float | None = DEFAULT_TIMEOUT) -> Iterator[FileResult]:
    """Process ``paths`` in order; results come back in order.

    The parent applies the text pre-filter itself (a fraction of a millisecond a file), so
    only the files that may hold boilerplate go to the worker processes (workers.py), which
    do all the parsing: a file that crashes the parser, exhausts the memory limit or runs
    past ``timeout`` seconds is an error for that file alone. Several workers are used only
    when enough files need the engine to pay for them."""
    files = list(paths)
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)  # inherited by the workers
    try:
        yield from _run(files, job, jobs, pool_threshold, timeout)
    finally:
        gc.set_threshold(*thresholds)


def _run(files: list[Path], job: Job, jobs: int, pool_threshold: int,
         timeout: float | None) -> Iterator[FileResult]:
    screened = [screen(path) for path in files]
    todo = [path for path, result in zip(files, screened) if result is None]
    if not todo:
        yield from (r for r in screened if r is not None)
        return
    workers = 1 if len(todo) < pool_threshold else min(jobs, os.cpu_count() or 1, len(todo))
    if workers > 1:  # warm the parser and the rule registry once, before forking them all
        migrate_source("import tensorflow as tf\ntf.set_random_seed(0)\n", job.options)
    done = WorkerPool(job, workers, timeout).map(todo)
    try:
        for result in screened:
            yield result if result is not None else next(done)
    finally:
        done.close()  # stops the workers when the caller stops early (Ctrl-C, a closed pipe)


ProgressFn = Callable[[FileResult], None]
