"""Markdown and reStructuredText: the Python code blocks of a document, migrated in place.

READMEs and docs carry the boilerplate recipe in code blocks, often with the import in
an earlier block than the seed. A document's Python blocks are therefore read like a
notebook's cells (``notebook.migrate_program``): one program in document order, a
marker line before each block, IPython lines masked. Everything outside the blocks,
and every line of a block the migration did not change, stays byte-identical.

Which blocks hold Python:

- Markdown fences (```` ``` ```` or ``~~~``, any indentation, e.g. inside a list item)
  whose info string names Python: ``python``, ``py``, ``python3``, ``py3``,
  ``ipython``, ``ipython3`` (any case; ``{.python}`` and MyST ``{code-cell} python``
  too). Indented code blocks have no language and are left alone.
- reST ``.. code-block::``, ``.. code::`` and ``.. sourcecode::`` with one of those
  languages, and ``.. testcode::``; their option lines (``:linenos:``) are not code.
- Blocks with no language (a bare fence, a reST ``::`` literal block or a
  ``code-block`` without argument, which Sphinx highlights as Python unless a
  ``.. highlight::`` directive says otherwise) are taken only when they parse as
  Python 3 and hold an import, a call, an assignment, a ``def``/``class`` or a
  ``with``: so a fence of shell commands, prose, JSON or YAML is not mistaken for code.
- Interactive sessions (``pycon``, ``.. doctest::``, ``>>>`` prompts) are never
  rewritten: their output lines would go stale.

A block that does not parse (docs hold fragments: ``...``, Python 2, templates) is
left out of the program without an error; so is a fence left open at the end of the
document or with a line less indented than the fence itself. Findings carry the
document's line and column (``cell`` is None), so text, JSON and SARIF output need
nothing special. Lines a fix adds take the block's indentation and line ending.
"""

from __future__ import annotations

import ast
import difflib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tf_repro_migrate.context import Options
from tf_repro_migrate.discover import DOC_SUFFIXES
from tf_repro_migrate.engine import might_match
from tf_repro_migrate.findings import Finding
from tf_repro_migrate.notebook import mask, migrate_program

PYTHON_LANGUAGES = frozenset(("python", "py", "python3", "py3", "ipython", "ipython3"))

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*$")
_MYST_CODE = frozenset(("{code-cell}", "{code-block}", "{code}", "{sourcecode}"))
_RST_CODE = re.compile(r"^(?P<indent>[ \t]*)\.\.[ \t]+(?P<name>code-block|code|sourcecode|testcode)::"
                       r"[ \t]*(?P<lang>\S*)[ \t]*$")
_RST_HIGHLIGHT = re.compile(r"^[ \t]*\.\.[ \t]+highlight::[ \t]*(?P<lang>\S*)")
_RST_DIRECTIVE = re.compile(r"^[ \t]*\.\.[ \t]")
_RST_OPTION = re.compile(r"^[ \t]+:[\w-]+:")
_MYST_OPTION = re.compile(r"^[ \t]*:[\w-]+:")
# Statements that only code has; a bare block holding none of them is prose or data.
_CODE_NODES = (ast.Import, ast.ImportFrom, ast.Call, ast.Assign, ast.AugAssign, ast.FunctionDef,
               ast.AsyncFunctionDef, ast.ClassDef, ast.With)


@dataclass
class Block:
    """A code block of a document: its code lines are ``lines[start:end]``."""

    start: int  # 0-based index of the first code line
    end: int
    indent: str  # removed from every code line (blank lines may be shorter)
    code: str  # dedented, with "\n" line ends
    bare: bool  # no language given: Python only if it looks like it


@dataclass
class DocumentResult:
    new_text: str
    findings: list[Finding] = field(default_factory=list)
    held_back: int = 0
    manual: int = 0
    skipped: bool = False


def is_document(path: Path) -> bool:
    """Whether ``path`` is a Markdown or reST file (by its suffix, in any case)."""
    return path.suffix.lower() in DOC_SUFFIXES


def split_lines(text: str) -> list[str]:
    """The document's lines with their line ends, split at "\\n" only (unlike ``splitlines``,
    a form feed or a Unicode line separator in prose does not start a line)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _body(line: str) -> str:
    """A line without its line end (and without the byte-order mark the first line may carry)."""
    return line.rstrip("\n").removesuffix("\r").removeprefix("\ufeff")


def _dedent(lines: list[str], indent: str) -> str | None:
    """The code of ``lines`` without ``indent``; None when a non-blank line lacks it."""
    out = []
    for line in lines:
        body = _body(line)
        if not body.strip():
            out.append("\n")
        elif body.startswith(indent):
            out.append(body[len(indent):] + "\n")
        else:
            return None
    if lines and not lines[-1].endswith("\n"):
        out[-1] = out[-1][:-1]
    return "".join(out)


def _language(info: str) -> str:
    """The language an info string or directive argument names, lower case ("" for none)."""
    words = info.split()
    if words and words[0].lower() in _MYST_CODE:
        words = words[1:]
    return words[0].strip("{}").lstrip(".").lower() if words else ""


def markdown_blocks(lines: list[str]) -> list[Block]:
    """The fenced code blocks of a Markdown document that may hold Python, in order."""
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(_body(lines[i]))
        i += 1
        if not opening or (opening["fence"][0] == "`" and "`" in opening["info"]):
            continue
        fence, indent = opening["fence"], opening["indent"]
        start = i
        while i < len(lines):
            closing = _FENCE_CLOSE.match(_body(lines[i]))
            if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence):
                break
            i += 1
        if i == len(lines):  # never closed: not a block we can see the end of
            break
        content = lines[start:i]
        i += 1
        # MyST directive options (":tags: [...]") open a code cell; they are not code.
        skip = 0
        words = opening["info"].split()
        if words and words[0].lower() in _MYST_CODE:
            while skip < len(content) and _MYST_OPTION.match(content[skip]):
                skip += 1
        language = _language(opening["info"])
        code = _dedent(content[skip:], indent)
        if code is not None and (language in PYTHON_LANGUAGES or not language):
            blocks.append(Block(start + skip, i - 1, indent, code, bare=not language))
    return blocks


def _indent_of(line: str) -> str:
    body = _body(line)
    return body[: len(body) - len(body.lstrip(" \t"))]


def _rst_content(lines: list[str], i: int, outer: str) -> tuple[int, int, str] | None:
    """The indented block that follows line ``i - 1`` (more indented than ``outer``):
    (start, end, indent) without the blank lines around it, or None if there is none."""
    start = i
    while start < len(lines) and not _body(lines[start]).strip():
        start += 1
    end = start
    while end < len(lines):
        body = _body(lines[end])
        if body.strip() and len(_indent_of(lines[end])) <= len(outer):
            break
        end += 1
    while end > start and not _body(lines[end - 1]).strip():
        end -= 1
    if end == start:
        return None
    widths = [_indent_of(line) for line in lines[start:end] if _body(line).strip()]
    indent = min(widths, key=len)
    return start, end, indent


def rst_blocks(lines: list[str]) -> list[Block]:
    """The code blocks of a reST document that may hold Python, in order."""
    blocks: list[Block] = []
    default = "python"  # Sphinx's highlight language until a ``highlight`` directive changes it
    i = 0
    while i < len(lines):
        body = _body(lines[i])
        i += 1
        highlight = _RST_HIGHLIGHT.match(body)
        if highlight:
            default = highlight["lang"].lower()
            continue
        directive = _RST_CODE.match(body)
        if directive:
            outer = directive["indent"]
            while i < len(lines) and _RST_OPTION.match(_body(lines[i])) and len(_indent_of(lines[i])) > len(outer):
                i += 1
            language = "python" if directive["name"] == "testcode" else _language(directive["lang"])
        elif body.rstrip().endswith("::") and not _RST_DIRECTIVE.match(body):
            outer, language = _indent_of(lines[i - 1]), ""
            if i < len(lines) and _body(lines[i]).strip():
                continue  # a literal block needs a blank line after its "::" paragraph
        else:
            continue
        found = _rst_content(lines, i, outer)
        if found is None:
            continue
        start, end, indent = found
        i = end  # the block's lines are code or literal text, never markup to look into
        bare = not language
        if language not in PYTHON_LANGUAGES and not (bare and default in PYTHON_LANGUAGES):
            continue
        code = _dedent(lines[start:end], indent)
        if code is not None:
            blocks.append(Block(start, end, indent, code, bare))
    return blocks


def looks_like_python(code: str) -> bool:
    """A block with no language holds Python: it parses (IPython lines masked) and holds
    a statement only code has (an import, a call, an assignment, a def, class or with)."""
    masked = mask(code, [])
    if masked is None:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in a block are not ours to report
            tree = ast.parse(masked)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return any(isinstance(node, _CODE_NODES) for node in ast.walk(tree))


def _reindent(block: Block, new_code: str, lines: list[str]) -> list[str]:
    """The document lines for a block's new code: lines the migration kept are copied from
    the document as they were; new ones take the block's indentation and line end."""
    old, new = _code_lines(block.code), _code_lines(new_code)
    newline = "\r\n" if lines[block.start].endswith("\r\n") else "\n"
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend(lines[block.start + i1 : block.start + i2])
        else:
            out.extend((block.indent + line if line.strip() else "") + newline for line in new[j1:j2])
    # Only the document's last line may lack a line end, and only if it lacked one before.
    out = [line if line.endswith("\n") else line + newline for line in out]
    if out and not new_code.endswith("\n"):
        out[-1] = out[-1].rstrip("\r\n")
    return out


def _code_lines(code: str) -> list[str]:
    """Lines split at "\n" only, as the document was (a form feed must not shift lines)."""
    lines = code.split("\n")
    return lines[:-1] if code.endswith("\n") else lines


def migrate_document(text: str, options: Options, suffix: str) -> DocumentResult:
    """Migrate the Python code blocks of a Markdown (or, for ``.rst``, reST) document."""
    if not might_match(text):
        return DocumentResult(text, skipped=True)
    lines = split_lines(text)
    found = rst_blocks(lines) if suffix.lower() == ".rst" else markdown_blocks(lines)
    blocks = {key: b for key, b in enumerate(found, 1) if not b.bare or looks_like_python(b.code)}
    # Blocks that do not parse are left out of the program quietly (program.unparsed).
    program = migrate_program([(key, b.code) for key, b in blocks.items()], options)
    result = DocumentResult(text, held_back=program.held_back, manual=program.manual)
    for f in program.findings:
        assert f.cell is not None  # migrate_program sets the piece's key
        block = blocks[f.cell]
        f.line, f.col, f.cell = block.start + f.line, f.col + len(block.indent), None
        result.findings.append(f)
    new_lines = list(lines)
    for key in sorted(program.new_sources, reverse=True):  # from the end: earlier indexes stay valid
        block = blocks[key]
        new_lines[block.start : block.end] = _reindent(block, program.new_sources[key], lines)
    result.new_text = "".join(new_lines)
    return result
