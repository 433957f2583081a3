"""Import clean-up for a rewrite, decided from the scope analysis the rules already ran.

What libcst's ``RemoveImportsVisitor`` / ``AddImportsVisitor`` do, without their whole-tree
passes. ``RemoveImportsVisitor`` re-runs the scope analysis on the *new* tree to see which
imports lost their last use; that second analysis was most of the cost of a migrated file.
But an import loses its last use exactly when every reference the first analysis found lies in
code the edits remove, and none of the new code names it. So the removals are planned on the
original tree and applied with the other edits in the same transform, and the new imports are
spliced into the module's top-level statements. Same decisions as libcst's visitors:

* an import is a candidate when a name or attribute in removed code resolves to it (and then
  every import of the same module/object/alias in the file is: libcst matches them that way);
* a candidate is removed when it is unused afterwards: no import binding its name in that
  scope keeps a reference outside the removed code (string annotations included), no new code
  uses the name, and it is not exported (a file with ``__all__`` that spells the name as a string);
* new imports go after the first block of import lines of the edited file (after a
  docstring), in libcst's order, with one blank line before the next statement; like libcst,
  they are placed before the unused imports go, so a new import takes the place (and the
  comments) of a removed last import line.

Shapes this plan does not cover fall back to libcst's visitors (``plan_removals`` returns
``None``): a removed import statement, a dotted import without ``as`` (``import a.b``), a
relative import, a parenthesized ``from`` import that would lose only some names, a candidate
import that another edit already changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import Assignment, ImportAssignment

from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import AddImport, Edit, InsertAfter, ReplaceNode, ReplaceStatement

ImportNode = cst.Import | cst.ImportFrom


@dataclass(frozen=True)
class _Key:
    """How libcst names an import to remove: (module, object, alias)."""

    module: str
    obj: str | None
    asname: str | None


def plan_removals(ctx: Context, text: str, edits: Sequence[Edit]) -> list[Edit] | None:
    """Edits that remove the imports ``edits`` leave unused, or ``None`` to use libcst's visitors."""
    removed = [e.old for e in edits if isinstance(e, (ReplaceNode, ReplaceStatement))]
    if not removed:
        return []
    if any(isinstance(node, (cst.Import, cst.ImportFrom)) for node in removed):
        return None
    inside = _Collector()
    for node in removed:
        node.visit(inside)
    keys: set[_Key] = set()
    for node in inside.names:
        keys.update(_keys_for(ctx, node))
    if not keys:
        return []
    new_names = _Collector()
    for edit in edits:
        for node in _new_nodes(edit):
            node.visit(new_names)
    used_in_new = new_names.variables()
    removed_ids = inside.ids
    touched = {id(node) for node in removed} | {id(e.anchor) for e in edits if isinstance(e, InsertAfter)}

    plan: list[Edit] = []
    for stmt in ctx.import_statements():
        if isinstance(stmt.names, cst.ImportStar):
            continue
        doomed = []
        for alias in stmt.names:
            key = _key_of(stmt, alias)
            if key is None or key not in keys:
                continue
            if keeps_running(stmt, alias):
                continue
            bound = _bound_name(alias)
            if bound is None:
                return None  # ``import a.b``: libcst matches it by dotted prefix
            if not _unused_after(ctx, text, stmt, bound, removed_ids, used_in_new):
                continue
            doomed.append(alias)
        if not doomed:
            continue
        if id(stmt) in touched:
            return None
        edit = _removal(stmt, doomed)  # type: ignore[assignment]
        if edit is None:
            return None
        plan.append(edit)
    return plan


# Importing these runs code that matters to the program: it consumes Python ``random`` state
# and reads import-time settings (``KERAS_BACKEND``, ``TF_ENABLE_ONEDNN_OPTS``, ...). A plain
# ``import tensorflow`` / ``import keras`` (the package itself, with or without ``as``) left
# unused by the edits stays where it is, so TF is still first imported at the same point of
# the program. Submodule imports (``import keras.backend.tensorflow_backend as KTF``) and
# from-imports go when unused: many of them no longer exist in TF 2 / Keras 3.
IMPORT_TIME_MODULES = frozenset({"tensorflow", "keras", "tf_keras"})


def keeps_running(stmt: ImportNode, alias: cst.ImportAlias) -> bool:
    """A plain import of TensorFlow or Keras: never removed, even when the edits leave it unused."""
    return isinstance(stmt, cst.Import) and alias.evaluated_name in IMPORT_TIME_MODULES


def _new_nodes(edit: Edit) -> Iterable[cst.CSTNode]:
    if isinstance(edit, ReplaceNode):
        return (edit.new,)
    if isinstance(edit, (ReplaceStatement, InsertAfter)):
        return edit.new
    return ()


class _Collector(cst.CSTVisitor):
    """Names and attributes (what libcst's removed-node visitor looks at), and every node's id."""

    def __init__(self) -> None:
        self.names: list[cst.Name | cst.Attribute] = []
        self.ids: set[int] = set()
        self.labels: set[int] = set()  # names that name nothing: ``.attr``, ``keyword=``

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.ids.add(id(node))
        if isinstance(node, (cst.Name, cst.Attribute)):
            self.names.append(node)
        if isinstance(node, cst.Attribute):
            self.labels.add(id(node.attr))
        elif isinstance(node, cst.Arg) and node.keyword is not None:
            self.labels.add(id(node.keyword))
        return True

    def variables(self) -> set[str]:
        """The names the collected code reads or binds (not attributes or keywords)."""
        return {n.value for n in self.names if isinstance(n, cst.Name) and id(n) not in self.labels}


def _keys_for(ctx: Context, node: cst.Name | cst.Attribute) -> set[_Key]:
    """The imports ``node`` refers to, as libcst's ``RemovedNodeVisitor`` finds them."""
    local = get_full_name_for_node(node)
    scope = ctx.scopes.get(node)
    if local is None or scope is None:
        return set()
    found: set[_Key] = set()
    while True:
        for assignment in scope.assignments[node] or ():
            if not isinstance(assignment, Assignment):
                continue
            stmt = assignment.node
            if not isinstance(stmt, (cst.Import, cst.ImportFrom)) or isinstance(stmt.names, cst.ImportStar):
                continue
            for alias in stmt.names:
                prefix = alias.evaluated_alias or alias.evaluated_name
                if local == prefix or local.startswith(prefix + "."):
                    key = _key_of(stmt, alias)
                    if key is not None:
                        found.add(key)
        if scope is scope.parent:
            break
        scope = scope.parent
    return found


def _key_of(stmt: ImportNode, alias: cst.ImportAlias) -> _Key | None:
    if isinstance(stmt, cst.Import):
        return _Key(alias.evaluated_name, None, alias.evaluated_alias)
    if stmt.relative or stmt.module is None:
        return None
    module = get_full_name_for_node(stmt.module)
    return None if module is None else _Key(module, alias.evaluated_name, alias.evaluated_alias)


def _bound_name(alias: cst.ImportAlias) -> str | None:
    """The one name the alias binds, or None for ``import a.b`` (binds ``a``, used as ``a.b``)."""
    if alias.asname is not None:
        return alias.evaluated_alias
    name = alias.evaluated_name
    return None if "." in name else name


def _unused_after(
    ctx: Context, text: str, stmt: ImportNode, bound: str, removed_ids: set[int], used_in_new: set[str]
) -> bool:
    if bound in used_in_new or _in_a_string(text, bound):
        return False
    scope = ctx.scopes.get(stmt)
    if scope is None:
        return False
    for assignment in scope[bound]:
        if not isinstance(assignment, ImportAssignment):
            continue
        for access in assignment.references:
            if id(access.node) not in removed_ids:
                return False
    return True


def _in_a_string(text: str, name: str) -> bool:
    """Possibly exported: the file has ``__all__`` and the name as a string. (Names in string
    annotations are references already: the scope analysis parses those strings.)"""
    return "__all__" in text and any(f"{q}{name}{q}" in text for q in ("'", '"'))


def _removal(stmt: ImportNode, doomed: list[cst.ImportAlias]) -> Edit | None:
    names = list(stmt.names)  # type: ignore[arg-type]
    kept = [a for a in names if a not in doomed]
    if not kept:
        return ReplaceStatement(stmt, [])
    if isinstance(stmt, cst.ImportFrom) and stmt.lpar is not None:
        return None  # comments inside the parentheses: libcst moves them with care
    if kept[-1] is not names[-1]:
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return ReplaceNode(stmt, stmt.with_changes(names=kept))


# -- adding imports ---------------------------------------------------------------------------


def plan_additions(
    module: cst.Module, edits: Sequence[Edit], floor: cst.CSTNode | None = None
) -> tuple[list[Edit], list[cst.SimpleStatementLine]]:
    """The ``import m`` / ``import m as a`` lines ``edits`` ask for, placed where libcst's
    AddImportsVisitor puts them: after the first block of import lines of the edited module
    (after a docstring), unless that block already has them.

    ``floor`` (see ``import_floor``) is a top-level statement that new TensorFlow / Keras
    imports must not go above: they go right after it instead.

    Returns an edit that inserts them after the block's last line (empty when the block is
    empty: ``finish_additions`` then puts them at the top) and the new lines."""
    wanted = [e for e in edits if isinstance(e, AddImport)]
    plain = {w.module for w in wanted if w.asname is None}
    aliases: dict[str, str] = {}
    for w in wanted:
        if w.asname is not None:
            aliases[w.module] = w.asname
    if not plain and not aliases:
        return [], []
    removed, changed = _statement_fates(edits)
    body = module.body
    start = 1 if _skip_first(body) else 0
    block: list[cst.SimpleStatementLine] = []
    for stmt in body[start:]:
        units = stmt.body if isinstance(stmt, cst.SimpleStatementLine) else [stmt]
        if all(u in removed for u in units):  # gone from the edited module
            continue
        if not _import_line(stmt) or any(u in changed for u in units):
            break
        block.append(stmt)  # type: ignore[arg-type]
    present: dict[str, str] = {}  # module -> alias, the last one wins (as in libcst's gatherer)
    for line in block:
        small = line.body[0]
        if isinstance(small, cst.Import):
            for alias in small.names:
                if alias.asname is None:
                    plain.discard(alias.evaluated_name)
                else:
                    present[alias.evaluated_name] = alias.evaluated_alias  # type: ignore[assignment]
    for name, asname in present.items():
        if aliases.get(name) == asname:
            del aliases[name]
    config = module.config_for_parsing
    new = [cst.parse_statement(f"import {m}", config=config) for m in sorted(plain)]
    new += [cst.parse_statement(f"import {m} as {a}", config=config) for m, a in aliases.items()]
    lines: list[cst.SimpleStatementLine] = new  # type: ignore[assignment]
    late: list[Edit] = []
    if floor is not None and lines:
        position = {id(stmt): i for i, stmt in enumerate(body)}
        top = position.get(id(floor))
        end = position.get(id(block[-1])) if block else start - 1
        if top is not None and end is not None and end < top:
            heavy = [ln for ln in lines if _top_module(ln) in IMPORT_TIME_MODULES]
            if heavy:
                lines = [ln for ln in lines if ln not in heavy]
                anchor = floor.body[-1] if isinstance(floor, cst.SimpleStatementLine) else floor
                late = [InsertAfter(anchor, heavy)]
    if not lines or not block:
        return late, lines
    return [InsertAfter(block[-1].body[0], lines), *late], lines


def _top_module(line: cst.SimpleStatementLine) -> str:
    small = line.body[0]
    assert isinstance(small, cst.Import)
    return small.names[0].evaluated_name.split(".")[0]


def import_floor(ctx: Context) -> cst.CSTNode | None:
    """The top-level statement holding the file's first TensorFlow/Keras import, when an
    environment write (``os.environ[...] = ...``, ``os.putenv``) runs at module level before
    it: those are read when TensorFlow / Keras is imported, so a new import of either must
    not go above them."""
    from tf_repro_migrate.analysis import env_writes

    body = ctx.module.body
    position = {id(stmt): i for i, stmt in enumerate(body)}

    def top_of(node: cst.CSTNode) -> int | None:
        current: cst.CSTNode | None = node
        while current is not None and id(current) not in position:
            current = ctx.parents.get(current)
        return None if current is None else position[id(current)]

    first = None
    for stmt in ctx.import_statements():
        names = [a.evaluated_name for a in stmt.names] if isinstance(stmt, cst.Import) else (
            [get_full_name_for_node(stmt.module) or ""] if stmt.module is not None and not stmt.relative else [])
        if any(n.split(".")[0] in IMPORT_TIME_MODULES for n in names):
            first = top_of(stmt)
            break
    if first is None:
        return None
    writes = [top_of(w.unit) for w in env_writes(ctx)]
    writes += [i for i, stmt in enumerate(body[:first]) if _env_magic(stmt)]
    if any(w is not None and w < first for w in writes):
        return body[first]
    return None


def _env_magic(stmt: cst.BaseStatement) -> bool:
    """A notebook's masked ``%env VAR=value`` line (notebook.mask marks it as an env write)."""
    if not isinstance(stmt, cst.SimpleStatementLine) or not isinstance(stmt.body[0], cst.Pass):
        return False
    comment = stmt.trailing_whitespace.comment
    return comment is not None and comment.value.startswith("# __tf_repro_migrate_magic_") and \
        comment.value.endswith("__env__")


def _statement_fates(edits: Sequence[Edit]) -> tuple[set[cst.CSTNode], set[cst.CSTNode]]:
    """Statement units the edits remove outright, and units they change in another way."""
    removed: set[cst.CSTNode] = set()
    changed: set[cst.CSTNode] = set()
    for edit in edits:
        if isinstance(edit, ReplaceStatement):
            (changed if edit.new else removed).add(edit.old)
        elif isinstance(edit, InsertAfter):
            changed.add(edit.anchor)
    return removed - changed, changed


def finish_additions(module: cst.Module, lines: Sequence[cst.SimpleStatementLine]) -> cst.Module:
    """Put ``lines`` at the top when no edit placed them, and give the statement after them
    a blank line (as libcst's AddImportsVisitor does)."""
    if not lines:
        return module
    body = list(module.body)
    last = lines[-1].body[0]
    index = next(
        (i for i, stmt in enumerate(body) if isinstance(stmt, cst.SimpleStatementLine) and stmt.body[0] is last),
        None,
    )
    if index is None:  # the file had no import lines at the top
        start = 1 if _skip_first(body) else 0
        body[start:start] = lines
        index = start + len(lines) - 1
    if index + 1 < len(body):
        first = body[index + 1]
        if not first.leading_lines:
            body[index + 1] = first.with_changes(leading_lines=(cst.EmptyLine(),))
        elif first.leading_lines[0].comment is not None:
            body[index + 1] = first.with_changes(leading_lines=(cst.EmptyLine(), *first.leading_lines))
    return module.with_changes(body=body)


def _import_line(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom))
    )


def _skip_first(body: Sequence[cst.BaseStatement]) -> bool:
    """A docstring or a ``__strict__`` flag opens the module (imports never go above it)."""
    if not body or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    small = body[0].body[0]
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString):
        return True
    return (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == "__strict__"
    )
