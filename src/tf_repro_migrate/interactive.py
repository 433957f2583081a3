"""``--interactive``: show each change and ask before writing it.

For a ``.py`` file every change is shown on its own (a diff of that change alone) and
the user answers apply / skip / apply all / quit; the file then goes through the same
pipeline as ``--write`` with what was accepted. A change is one finding, or the findings
that only make sense together (a config and its session); a change that an accepted one
makes moot (a rename inside seeds merged into one call) is not asked about, and a
declined change does not take another's place with it (declining the merge offers the
rename). A notebook or a Markdown / reST document is offered
as a whole (its diff, one answer).
``quit`` writes what was accepted in the current file and stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

from tf_repro_migrate.context import Options
from tf_repro_migrate.docs import is_document
from tf_repro_migrate.engine import Analysis, render
from tf_repro_migrate.findings import Finding
from tf_repro_migrate.pipeline import FileResult, Job, process_file, unified_diff

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
    """The same pipeline as ``--write``, asking before each change it would take."""
    name = str(path)

    def decide(change: list[Finding], analysis: Analysis) -> bool:
        if asker.quit:
            return False
        alone = render(analysis, change)
        if alone == analysis.text:
            return True  # nothing to show (an edit that another change already carries)
        show_diff(unified_diff(name, analysis.text, alone))
        for finding in change:
            out.write(f"{name}:{finding.line}:{finding.col} {finding.code} {finding.message}\n")
        return asker()

    return process_file(path, Job(options, write=True), decide)
