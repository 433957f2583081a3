"""Jupyter notebooks (``.ipynb``) in and out.

A notebook is migrated as one program: its code cells, in order, joined with a
marker comment line before each cell, so that an import in cell 1 resolves a seed
call in cell 5. IPython syntax (``%magic``, ``%env VAR=1``, ``!shell``, ``! shell``,
``?help``, ``obj?``, ``x = !cmd``) is masked as ``pass  # <marker>`` with the line's own
indentation before parsing and restored after; it is recognised only on a line that
starts a statement (not inside a string, brackets or a backslash continuation), so a
line ending in ``?`` inside a triple-quoted string stays text. ``%%cell`` magics make
the whole cell opaque. A cell that does not parse is left out of the program,
reported, and left as it is. ``migrate_program`` does all this for any list of code
pieces; Markdown and reST code blocks (docs.py) use it too.

The JSON text is never re-serialised: the exact span of each changed cell's
``source`` value is found with a small position-tracking JSON scanner and only that
span is replaced, in the same layout (a list of lines, or one string) and with the
same item indentation. Outputs, metadata, ids, key order, indentation and the
trailing newline stay byte-identical.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from tf_repro_migrate.context import Options
from tf_repro_migrate.engine import migrate_source, might_match
from tf_repro_migrate.findings import Finding

CELL_MARK = "# __tf_repro_migrate_cell_{}__"
_CELL_MARK_RE = re.compile(r"^# __tf_repro_migrate_cell_(\d+)__$")
_MAGIC_MARK = "pass  # __tf_repro_migrate_magic_{}__"
# ``%env VAR=value`` sets an environment variable, like ``os.environ[...] = ...``: its marker says
# so, so that the engine never puts a new TensorFlow / Keras import above it (imports.import_floor).
ENV_MAGIC_SUFFIX = "env__"
_MAGIC_MARK_RE = re.compile(r"^[ \t]*pass  # __tf_repro_migrate_magic_(\d+)__(?:env__)?$")
_ENV_MAGIC = re.compile(r"^[ \t]*%(?:set_)?env\b")
# Only ever tried on a line that starts a statement (see _Lexer): there none of these is Python.
_IPYTHON_LINE = re.compile(r"^[ \t]*(?:%[A-Za-z%]|!(?!=)|\?|[A-Za-z_][\w.]*\s*=\s*[!%][A-Za-z])")
# ``obj?`` / ``obj??`` help; only when the ``?`` is outside any string (checked with _Lexer).
_HELP_LINE = re.compile(r"^[ \t]*[^#\s][^#]*\?{1,2}\s*$")


class NotebookError(Exception):
    """The notebook cannot be processed; the message is the one-line reason."""


@dataclass
class Cell:
    index: int  # 1-based position among all cells
    start: int  # span of the source value in the JSON text
    end: int
    text: str  # the source joined into one string
    as_list: bool


@dataclass
class NotebookResult:
    new_json: str
    diffs: list[tuple[int, str, str]] = field(default_factory=list)  # (cell, old source, new source)
    findings: list[Finding] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    held_back: int = 0
    manual: int = 0
    skipped: bool = False


# -- a JSON scanner that knows where values are --------------------------------------------------


class _Scanner:
    """Just enough JSON to find value spans; decoding is left to ``json``."""

    def __init__(self, text: str):
        self.text = text
        self.decoder = json.JSONDecoder()

    def ws(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in " \t\r\n":
            i += 1
        return i

    def value_end(self, i: int) -> int:
        _, end = self.decoder.raw_decode(self.text, i)
        return end

    def object_members(self, i: int) -> tuple[dict[str, tuple[int, int]], int]:
        """Members of the object at ``i``: key -> (value start, value end); and the object's end."""
        assert self.text[i] == "{"
        members: dict[str, tuple[int, int]] = {}
        i = self.ws(i + 1)
        if self.text[i] == "}":
            return members, i + 1
        while True:
            key, i = self.decoder.raw_decode(self.text, i)
            i = self.ws(i)
            if self.text[i] != ":":
                raise ValueError("expected ':'")
            start = self.ws(i + 1)
            end = self.value_end(start)
            members[key] = (start, end)
            i = self.ws(end)
            if self.text[i] == "}":
                return members, i + 1
            if self.text[i] != ",":
                raise ValueError("expected ','")
            i = self.ws(i + 1)

    def array_items(self, i: int) -> list[tuple[int, int]]:
        assert self.text[i] == "["
        items: list[tuple[int, int]] = []
        i = self.ws(i + 1)
        if self.text[i] == "]":
            return items
        while True:
            end = self.value_end(i)
            items.append((i, end))
            i = self.ws(end)
            if self.text[i] == "]":
                return items
            if self.text[i] != ",":
                raise ValueError("expected ','")
            i = self.ws(i + 1)


def read_cells(text: str) -> list[Cell]:
    """The code cells of a notebook's JSON text, with the spans of their sources."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"invalid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if not isinstance(data, dict):
        raise NotebookError(f"not a Jupyter notebook (the JSON is {_json_type(data)}, not an object)")
    version = data.get("nbformat")
    if isinstance(version, int) and not isinstance(version, bool) and version != 4:
        # nbformat 3 keeps its cells under "worksheets": say what it is, not "no 'cells'"
        raise NotebookError(f"nbformat {version} is not supported (only nbformat 4; "
                            "`jupyter nbconvert --to notebook` upgrades it)")
    if "cells" not in data:
        raise NotebookError("not a Jupyter notebook (no 'cells')")
    if version != 4:
        raise NotebookError(f"not a Jupyter notebook (nbformat is {version!r}, not 4)")
    if not isinstance(data["cells"], list):
        raise NotebookError(f"malformed notebook: 'cells' is {_json_type(data['cells'])}, not a list")
    if not data["cells"]:
        raise NotebookError("empty notebook (no cells)")
    for index, cell in enumerate(data["cells"], 1):
        if not isinstance(cell, dict):
            raise NotebookError(f"malformed notebook: cell {index} is {_json_type(cell)}, not an object")
        source = cell.get("source")
        if cell.get("cell_type") == "code" and "source" in cell and not (
            isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))
        ):
            raise NotebookError(f"malformed notebook: the source of cell {index} is {_json_type(source)}, "
                                "not a string or a list of strings")
    scanner = _Scanner(text)
    # json.loads keeps the last of duplicate keys; so does the scanner's dict.
    top, _ = scanner.object_members(scanner.ws(0))
    cells: list[Cell] = []
    for index, (start, _) in enumerate(scanner.array_items(top["cells"][0]), 1):
        members, _ = scanner.object_members(start)
        cell = data["cells"][index - 1]
        if cell.get("cell_type") != "code" or "source" not in members:
            continue
        source = cell["source"]
        as_list = isinstance(source, list)
        s_start, s_end = members["source"]
        cells.append(Cell(index, s_start, s_end, "".join(source) if as_list else source, as_list))
    return cells


def _json_type(value: object) -> str:
    """How a JSON value is named in a message: 'null', 'a number', 'a list containing a number'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        bad = [v for v in value if not isinstance(v, str)]
        return f"a list containing {_json_type(bad[0])}" if bad else "a list"
    return "an object"


def encode_source(new: str, cell: Cell, text: str) -> str:
    """The JSON for a cell's new source, laid out like the old one."""
    if not cell.as_list:
        return json.dumps(new, ensure_ascii=False)
    lines = new.splitlines(keepends=True)
    old = text[cell.start : cell.end]
    match = re.match(r"\[(\s*)", old)
    lead = match.group(1) if match else ""
    if not lines:
        return "[]"
    if "\n" not in lead:  # everything on one line
        return "[" + ", ".join(json.dumps(line, ensure_ascii=False) for line in lines) + "]"
    item_indent = lead
    closing = re.search(r"(\s*)\]$", old)
    close_ws = closing.group(1) if closing and old != "[]" else lead[: lead.rfind("\n") + 1]
    if old.strip() == "[]":
        close_ws = "\n" + " " * max(0, len(lead) - 2)
    body = ("," + item_indent).join(json.dumps(line, ensure_ascii=False) for line in lines)
    return "[" + item_indent + body + close_ws + "]"


# -- masking IPython syntax ----------------------------------------------------------------------


class _Lexer:
    """Just enough of Python's tokenizer to tell, line by line, whether a line starts a
    statement: not inside a (triple-quoted or backslash-continued) string, not inside
    brackets, not after a backslash continuation. IPython syntax is recognised only
    there, so ``!``, ``%`` and a trailing ``?`` inside a string or an expression stay."""

    def __init__(self) -> None:
        self.quote = ""  # the open string's quote (one or three quote characters); "" outside strings
        self.depth = 0
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return not self.quote and not self.depth and not self.continued

    def feed(self, line: str) -> None:
        """Advance over one physical line (without its line ending)."""
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            c = line[i]
            if self.quote:
                if c == "\\":
                    if i == n - 1:  # an escaped line end: the string goes on
                        return
                    i += 2
                elif line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = ""
                else:
                    i += 1
                continue
            if c == "#":
                break
            if c in "'\"":
                self.quote = c * 3 if line.startswith(c * 3, i) else c
                i += len(self.quote)
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif c == "\\" and i == n - 1:
                self.continued = True
            i += 1
        if len(self.quote) == 1:  # an unterminated one-line string ends with its line
            self.quote = ""


def _is_help(line: str) -> bool:
    """``obj?``: the trailing ``?`` is not in a string and the line opens nothing."""
    if not _HELP_LINE.search(line):
        return False
    lexer = _Lexer()
    lexer.feed(line.rstrip().rstrip("?"))
    return lexer.at_statement_start


def mask(source: str, magics: list[str]) -> str | None:
    """Source with IPython-only lines replaced by ``pass  # marker`` (None for a ``%%`` cell)."""
    if source.lstrip().startswith("%%"):
        return None
    out = []
    lexer = _Lexer()
    for line in source.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if (lexer.at_statement_start and not body.lstrip().startswith("#")
                and (_IPYTHON_LINE.search(body) or _is_help(body))):
            indent = body[: len(body) - len(body.lstrip())]
            mark = _MAGIC_MARK.format(len(magics)) + (ENV_MAGIC_SUFFIX if _ENV_MAGIC.match(body) else "")
            out.append(indent + mark + line[len(body):])
            magics.append(body)
        else:
            lexer.feed(body)
            out.append(line)
    return "".join(out)


def unmask(source: str, magics: list[str]) -> str:
    out = []
    for line in source.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        match = _MAGIC_MARK_RE.match(body)
        out.append(magics[int(match.group(1))] + line[len(body):] if match else line)
    return "".join(out)


# -- migration -----------------------------------------------------------------------------------


@dataclass
class ProgramResult:
    """Pieces of code (notebook cells, documentation code blocks) migrated as one program."""

    new_sources: dict[int, str] = field(default_factory=dict)  # key -> new source, for changed pieces only
    findings: list[Finding] = field(default_factory=list)  # ``cell`` is the piece's key, ``line`` counts in it
    unparsed: list[tuple[int, int]] = field(default_factory=list)  # (key, line) of pieces left out
    held_back: int = 0
    manual: int = 0


def migrate_program(pieces: Sequence[tuple[int, str]], options: Options) -> ProgramResult:
    """Migrate ``(key, source)`` pieces as one program in the order given.

    Each piece is masked, and left out when it does not parse on its own; the rest are
    joined with a marker line before each, migrated, and cut back at the markers."""
    magics: list[str] = []
    parts: list[str] = []
    included: list[tuple[int, str]] = []
    result = ProgramResult()
    for key, source in pieces:
        masked = mask(source, magics)
        if masked is None:
            continue
        if masked and not masked.endswith("\n"):
            masked += "\n"
        try:
            cst.parse_module(masked)
        except cst.ParserSyntaxError as exc:
            result.unparsed.append((key, exc.raw_line))
            continue
        parts.append(CELL_MARK.format(key) + "\n" + masked)
        included.append((key, source))
    if not parts:
        return result
    program = "".join(parts)
    migrated = migrate_source(program, options)
    result.held_back, result.manual = migrated.held_back, migrated.manual
    starts = _cell_starts(program)
    for f in migrated.findings:
        key, first_line = max(((c, s) for c, s in starts.items() if s <= f.line), key=lambda cs: cs[1])
        f.cell, f.line = key, f.line - first_line + 1
        result.findings.append(f)
    if not migrated.changed:
        return result
    new_sources = _split(migrated.new)
    for key, source in included:
        new = _keep_ending(source, unmask(new_sources.get(key, ""), magics))
        if new != source:
            result.new_sources[key] = new
    return result


def migrate_notebook(text: str, options: Options) -> NotebookResult:
    """Migrate a notebook's code cells as one program; raises NotebookError for a bad notebook."""
    cells = read_cells(text)
    if not might_match(text):
        return NotebookResult(text, skipped=True)
    program = migrate_program([(cell.index, cell.text) for cell in cells], options)
    errors = [f"cell {index}: does not parse as Python 3 (line {line}); cell left as it is"
              for index, line in program.unparsed]
    result = NotebookResult(text, findings=program.findings, cell_errors=errors,
                            held_back=program.held_back, manual=program.manual)
    replacements = [(cell, program.new_sources[cell.index]) for cell in cells if cell.index in program.new_sources]
    result.diffs = [(cell.index, cell.text, new) for cell, new in replacements]
    if not replacements:
        return result
    pieces, pos = [], 0
    for cell, new in replacements:
        pieces.append(text[pos : cell.start])
        pieces.append(encode_source(new, cell, text))
        pos = cell.end
    pieces.append(text[pos:])
    result.new_json = "".join(pieces)
    return result


_ENDING = re.compile(r"(?:\r?\n[ \t\f]*)*\Z")  # the line ends and blank lines after the last code


def _keep_ending(source: str, new: str) -> str:
    """``new`` ending as ``source`` did when it would end with more blank lines (or a line end
    the piece lacked): the blank line the engine puts after added imports belongs to the code
    after them, which is in the next piece when the imports end this one."""
    old_end, new_end = _ENDING.search(source), _ENDING.search(new)
    assert old_end is not None and new_end is not None  # the pattern matches the empty end
    if new_end.group().count("\n") > old_end.group().count("\n"):
        return new[: new_end.start()] + old_end.group()
    return new


def _cell_starts(program: str) -> dict[int, int]:
    """Cell index -> line number (1-based) of the cell's first source line in ``program``."""
    starts = {}
    for number, line in enumerate(program.splitlines(), 1):
        match = _CELL_MARK_RE.match(line)
        if match:
            starts[int(match.group(1))] = number + 1
    return starts


def _split(program: str) -> dict[int, str]:
    """The migrated program cut back into cells at the marker lines."""
    sources: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in program.splitlines(keepends=True):
        match = _CELL_MARK_RE.match(line.rstrip("\r\n"))
        if match:
            current = sources.setdefault(int(match.group(1)), [])
            continue
        if current is None:  # new code placed above the first marker (an added import)
            current = sources.setdefault(-1, [])
        current.append(line)
    joined = {k: "".join(v) for k, v in sources.items()}
    head = joined.pop(-1, "")
    if head and joined:
        first = min(joined)
        joined[first] = head + joined[first]
    return joined
