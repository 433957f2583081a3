"""``--interactive``: show each change and ask before writing it.

For a ``.py`` file every fix is shown on its own (a diff of that fix alone) and the
user answers apply / skip / apply all / quit; the accepted fixes are then applied
together and written. A notebook or a Markdown / reST document is offered as a whole
(its diff, one answer).
``quit`` writes what was accepted in the current file and stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

import libcst as cst

from tf_repro_migrate.context import Options
from tf_repro_migrate.docs import is_document
from tf_repro_migrate.engine import analyse_module, default_accepted, might_match, parse, render
from tf_repro_migrate.prescreen import could_match
from tf_repro_migrate.fileio import SourceError, read_source, write_atomic
from tf_repro_migrate.pipeline import FileResult, Job, _plain, decode, process_file, unified_diff

PROMPT = "Apply this change? [y]es / [n]o / [a]ll / [q]uit: "
Show = Callable[[str], None]


class _Asker:
    def __init__(self, inp: TextIO, out: TextIO):
        self.inp, self.out = inp, out
        self.apply_all = False
        self.quit = False

    def __call__(self) -> bool:
        if self.apply_all:
            return True
        while True:
            self.out.write(PROMPT)
            self.out.flush()
            answer = self.inp.readline()
            if not answer:  # end of input: stop asking, apply nothing more
                self.quit = True
                return False
            choice = answer.strip().lower()[:1]
            if choice in ("y", "n", "a", "q"):
                break
        if choice == "a":
            self.apply_all = True
        if choice == "q":
            self.quit = True
        return choice in ("y", "a")


def run_interactive(paths: Iterable[Path], options: Options, inp: TextIO, out: TextIO,
                    show_diff: Show) -> Iterator[FileResult]:
    asker = _Asker(inp, out)
    for path in paths:
        if asker.quit:
            return
        if path.suffix == ".ipynb" or is_document(path):
            yield _notebook(path, options, asker, out, show_diff)
            continue
        yield _python(path, options, asker, out, show_diff)


def _notebook(path: Path, options: Options, asker: _Asker, out: TextIO, show_diff: Show) -> FileResult:
    preview = process_file(path, Job(options, write=False))
    if preview.status != "changed":
        return preview
    show_diff(preview.diff)
    if asker():
        return process_file(path, Job(options, write=True))
    preview.status = "unchanged"
    return preview


def _python(path: Path, options: Options, asker: _Asker, out: TextIO, show_diff: Show) -> FileResult:
    name = str(path)
    try:
        data = read_source(path)
        text, encoding = decode(data)
        if not might_match(text) or not could_match(text):
            return FileResult(name, "skipped")
        try:
            analysis = analyse_module(parse(text), text, options)
        except cst.ParserSyntaxError:
            return process_file(path, Job(options))  # reports the reason the usual way
        accepted = []
        for finding in analysis.findings:
            if asker.quit:
                break
            if not default_accepted(finding, options):
                continue
            alone = render(analysis, [finding])
            if alone == text:
                continue
            show_diff(unified_diff(name, text, alone))
            out.write(f"{name}:{finding.line}:{finding.col} {finding.code} {finding.message}\n")
            if asker():
                accepted.append(finding)
        new_text = render(analysis, accepted)
        for finding in accepted:
            finding.applied = True
        held_back = sum(1 for f in analysis.findings if f.edits and not f.applied and f.safety.value == "unsafe")
        manual = sum(1 for f in analysis.findings if f.safety.value == "manual")
        result = FileResult(name, "unchanged", findings=[_plain(f) for f in analysis.findings],
                            held_back=held_back, manual=manual)
        if new_text != text:
            write_atomic(path, new_text.encode(encoding))
            result.status = "written"
        return result
    except SourceError as exc:
        return FileResult(name, "error", error=str(exc))
