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
import tokenize
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import libcst as cst

from tf_repro_migrate.docs import is_document, migrate_document
from tf_repro_migrate.engine import Decide, Options, migrate_source, might_match
from tf_repro_migrate.fileio import SourceError, read_source, write_atomic
from tf_repro_migrate.findings import Finding
from tf_repro_migrate.notebook import NotebookError, migrate_notebook

# Below this many files a pool costs more (start-up, imports) than it saves.
POOL_THRESHOLD = 16
# A syntax tree and its scope analysis are hundreds of thousands of objects; with the default
# thresholds the cyclic garbage collector ran so often that it took a quarter of a run's time on
# a large tree. Collected ten times less often, the garbage between collections stays bounded
# (peak memory still does not grow with the number of files: bench/README.md).
GC_THRESHOLDS = (100_000, 50, 100)


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

    @property
    def changed(self) -> bool:
        return self.status in ("changed", "written")


@dataclass(frozen=True)
class Job:
    options: Options
    write: bool = False


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) honouring a BOM or an encoding cookie, like the interpreter."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"bad encoding declaration: {exc.msg}") from None
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc.reason if hasattr(exc, 'reason') else exc}") from None


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
        data = read_source(path)
        if path.suffix == ".ipynb":
            return _process_notebook(path, data, job)
        if is_document(path):
            return _process_document(path, data, job)
        text, encoding = decode(data)
        try:
            result = migrate_source(text, job.options, decide)
        except cst.ParserSyntaxError as exc:
            raise SourceError(_syntax_reason(exc, text)) from None
        except RecursionError:
            raise SourceError("too deeply nested to parse") from None
        if result.skipped:
            return FileResult(name, "skipped")
        findings = [_plain(f) for f in result.findings]
        out = FileResult(name, "unchanged", findings=findings, held_back=result.held_back, manual=result.manual)
        if not result.changed:
            return out
        new_data = result.new.encode(encoding)
        if new_data == data:
            return out
        out.diff = unified_diff(name, result.old, result.new)
        out.status = "changed"
        if job.write:
            try:
                write_atomic(path, new_data)
            except OSError as exc:
                raise SourceError(f"cannot write: {exc.strerror or exc}") from None
            out.status = "written"
        return out
    except SourceError as exc:
        return FileResult(name, "error", error=str(exc))


def _process_notebook(path: Path, data: bytes, job: Job) -> FileResult:
    name = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode notebook as utf-8: {exc.reason}") from None
    if not text.strip():
        raise SourceError("empty notebook file")
    try:
        result = migrate_notebook(text, job.options)
    except NotebookError as exc:
        raise SourceError(str(exc)) from None
    except cst.ParserSyntaxError as exc:  # pragma: no cover - cells are parsed one by one first
        raise SourceError(f"does not parse: {exc.message}") from None
    if result.skipped:
        return FileResult(name, "skipped")
    out = FileResult(name, "unchanged", findings=[_plain(f) for f in result.findings],
                     held_back=result.held_back, manual=result.manual, problems=result.cell_errors)
    if result.new_json == text:
        return out
    out.diff = "".join(unified_diff(f"{name}:cell {cell}", old, new) for cell, old, new in result.diffs)
    out.status = "changed"
    if job.write:
        try:
            write_atomic(path, result.new_json.encode("utf-8"))
        except OSError as exc:
            raise SourceError(f"cannot write: {exc.strerror or exc}") from None
        out.status = "written"
    return out


def _process_document(path: Path, data: bytes, job: Job) -> FileResult:
    """A Markdown or reST document: its Python code blocks (docs.py); the diff is of the whole document."""
    name = str(path)
    # Trigger words are ASCII: a document without any is skipped before it is decoded, so a
    # Latin-1 README with nothing to migrate is not an error.
    if not might_match(data.decode("latin-1")):
        return FileResult(name, "skipped")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode as utf-8: {exc.reason}") from None
    try:
        result = migrate_document(text, job.options, path.suffix)
    except RecursionError:  # each block parsed, but the program is too deep for the analysis
        raise SourceError("too deeply nested to migrate") from None
    out = FileResult(name, "skipped" if result.skipped else "unchanged", findings=[_plain(f) for f in result.findings],
                     held_back=result.held_back, manual=result.manual)
    if result.new_text == text:
        return out
    out.diff, out.status = unified_diff(name, text, result.new_text), "changed"
    if job.write:
        try:
            write_atomic(path, result.new_text.encode("utf-8"))
        except OSError as exc:
            raise SourceError(f"cannot write: {exc.strerror or exc}") from None
        out.status = "written"
    return out


def _plain(finding: Finding) -> Finding:
    """A copy without the syntax-tree edits (cheap to pickle, nothing to keep alive)."""
    return Finding(finding.code, finding.line, finding.col, finding.message, finding.safety, [], finding.applied,
                   finding.cell)


def unified_diff(name: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines)


def _run_one(args: tuple[Path, Job]) -> FileResult:
    return process_file(*args)


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


def run(paths: Iterable[Path], job: Job, jobs: int = 1,
        pool_threshold: int = POOL_THRESHOLD) -> Iterator[FileResult]:
    """Process ``paths`` in order, in a pool when there are many; results come back in order.

    With a pool, the parent first applies the text pre-filter itself (a fraction of a
    millisecond a file), so only the files that may hold boilerplate travel to the workers,
    in small chunks: those are the expensive ones, and they are unevenly spread."""
    files = list(paths)
    workers = min(jobs, os.cpu_count() or 1, max(1, len(files)))
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)  # inherited by the workers
    try:
        yield from _run(files, job, workers, pool_threshold)
    finally:
        gc.set_threshold(*thresholds)


def _run(files: list[Path], job: Job, workers: int, pool_threshold: int) -> Iterator[FileResult]:
    if workers <= 1 or len(files) < pool_threshold:
        for path in files:
            yield process_file(path, job)
        return
    screened = [screen(path) for path in files]
    todo = [path for path, result in zip(files, screened) if result is None]
    if len(todo) < pool_threshold:
        for path, result in zip(files, screened):
            yield result if result is not None else process_file(path, job)
        return
    # Warm the parser and the rule registry before forking, so workers start ready.
    migrate_source("import tensorflow as tf\ntf.set_random_seed(0)\n", job.options)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = pool.map(_run_one, ((p, job) for p in todo), chunksize=max(1, min(8, len(todo) // (workers * 16))))
        for result in screened:
            yield result if result is not None else next(done)


ProgressFn = Callable[[FileResult], None]
