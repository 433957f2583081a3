"""The view of one parsed file that every rule shares: resolved names, statement
units and blocks, positions, and the findings recorded so far."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Iterator, Mapping, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    ClassScope,
    ComprehensionScope,
    CodeRange,
    ExpressionContextProvider,
    GlobalScope,
    ImportAssignment,
    MetadataWrapper,
    PositionProvider,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

from tf_repro_migrate.findings import AddImport, Edit, Finding, InsertBefore, Safety
from tf_repro_migrate.libcst_internals import computed_metadata
from tf_repro_migrate.walk import LazyPositions, PositionProvidingCodegenState, TreeIndex, expression_contexts

BlockNode = cst.Module | cst.IndentedBlock | cst.SimpleStatementSuite


@dataclass(frozen=True)
class Options:
    """What the user asked of one run of the engine."""

    unsafe_fixes: bool = False
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    keras_target: str = "keras"  # "keras" -> keras.utils.set_random_seed; "tf.keras" -> tf.keras.utils...

    def enabled(self, code: str) -> bool:
        if any(code.startswith(prefix) for prefix in self.ignore):
            return False
        return self.select is None or any(code.startswith(prefix) for prefix in self.select)


class Context:
    """Metadata for one module plus the bookkeeping rules share (claimed nodes, findings)."""

    def __init__(self, wrapper: MetadataWrapper, options: Options):
        self.wrapper = wrapper
        self.module = wrapper.module
        self.options = options
        self.findings: list[Finding] = []
        self.claimed: set[cst.CSTNode] = set()
        self.rule_order = 50  # the order of the rule running now, stamped on its findings
        self.text: str | None = None  # the source text the module was parsed from (set by the engine)
        self.cache: dict[str, object] = {}
        self._calls: dict[str, list[cst.Call]] | None = None
        self._blocks: dict[cst.CSTNode, list[cst.CSTNode]] = {}
        self._imports: list[cst.Import | cst.ImportFrom] | None = None
        self._import_roots: frozenset[str] | None = None
        self._imports_by_binding: dict[str, list[cst.Import | cst.ImportFrom]] | None = None
        self._possible_callees: set[str] | None = None

    # -- metadata, resolved on first use ---------------------------------------------------------
    # Scope analysis is most of the cost of a file. Most files that pass the text pre-filter
    # ("seed", "Session" are common words) import nothing a rule looks for; for those the
    # rules never get past ``calls_to``/``matches``, and no metadata is ever computed.

    @cached_property
    def scopes(self) -> Mapping[cst.CSTNode, Scope | None]:
        # The scope analysis first needs every name's load/store/del context; libcst computes
        # that with a visitor per assignment target, walk.py in one walk (same answers, a
        # test compares them). Handed to the wrapper where libcst keeps computed metadata;
        # should that attribute move, libcst computes it itself.
        computed = computed_metadata(self.wrapper)
        if isinstance(computed, dict) and ExpressionContextProvider not in computed:
            computed[ExpressionContextProvider] = expression_contexts(self.module)
        return self.wrapper.resolve(ScopeProvider)

    @cached_property
    def index(self) -> TreeIndex:
        """Parents and calls of the module, from one quick walk (walk.py)."""
        return TreeIndex(self.module)

    @property
    def parents(self) -> Mapping[cst.CSTNode, cst.CSTNode]:
        return self.index.parents

    @cached_property
    def positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        """Positions as libcst's PositionProvider gives them, computed for the top-level
        statements that are asked about (walk.LazyPositions)."""
        if PositionProvidingCodegenState is None:  # pragma: no cover - another libcst layout
            return self.wrapper.resolve(PositionProvider)
        return LazyPositions(self.module, self.parents)

    # -- names --------------------------------------------------------------------------------

    def import_statements(self) -> list[cst.Import | cst.ImportFrom]:
        """Every import statement of the module, in source order (found without a full visit)."""
        if self._imports is None:
            self._imports = import_statements(self.module)
        return self._imports

    def might_resolve(self, names: Iterable[str]) -> bool:
        """False when no node of this module can resolve to any of ``names`` through imports.

        libcst gives a node an import-sourced qualified name only through an import
        statement of the module, and that name starts with the import's top-level module
        (``import a.b as c`` -> ``a.b...``; ``from a.b import c`` -> ``a.b.c...``; relative
        imports -> ``.x...``). So when no import's top-level module is the first component
        of a wanted name, nothing can match, and the scope analysis can be skipped.
        """
        if self._import_roots is None:
            self._import_roots = frozenset(r for stmt in self.import_statements() for r in _import_roots(stmt))
        return any(name.split(".", 1)[0] in self._import_roots for name in names)

    def possible_names(self, node: cst.CSTNode) -> set[str]:
        """A superset of ``qualified_names(node)``, computed without scope analysis.

        libcst's qualified name of a node from an import is always
        ``ImportAssignment.get_qualified_names_for(<the node's dotted name>)`` for an
        import statement that binds the first component of that name (in some scope).
        Asking every import statement that binds it, whatever the scope, gives every name
        libcst could answer, and usually more; never fewer.
        """
        full_name = get_full_name_for_node(node)
        if full_name is None:
            return set()
        if self._imports_by_binding is None:
            self._imports_by_binding = _imports_by_binding(self.import_statements())
        found: set[str] = set()
        for stmt in self._imports_by_binding.get(full_name.split(".", 1)[0], ()):
            assignment = ImportAssignment(full_name, None, stmt, 0, stmt)  # type: ignore[arg-type]
            found.update(q.name for q in assignment.get_qualified_names_for(full_name))
        return found

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """Names ``node`` resolves to through imports (local look-alikes resolve to nothing).

        What libcst's QualifiedNameProvider answers, asked of the node's scope directly: the
        provider would first walk the whole tree to attach a lazy value to every node."""
        scope = self.scopes.get(node)
        if not scope:
            return set()
        return {q.name for q in scope.get_qualified_names_for(node) if q.source is QualifiedNameSource.IMPORT}

    def matches(self, node: cst.CSTNode, names: Iterable[str]) -> bool:
        if not isinstance(names, (tuple, list, set, frozenset)):
            names = tuple(names)
        if not self.might_resolve(names) or self.possible_names(node).isdisjoint(names):
            return False  # cannot match: spare the scope analysis
        return not self.qualified_names(node).isdisjoint(names)

    def calls_to(self, names: Iterable[str]) -> list[cst.Call]:
        """Every call in the module whose callee resolves to one of ``names``, in source order."""
        if not isinstance(names, (tuple, list, set, frozenset)):
            names = tuple(names)
        if self._calls is None:
            if not self.might_resolve(names):
                return []
            if self._possible_callees is None:
                self._possible_callees = {n for call in self._all_calls() for n in self.possible_names(call.func)}
            if self._possible_callees.isdisjoint(names):
                return []  # no call can resolve to these names: spare the scope analysis
            index: dict[str, list[cst.Call]] = {}
            for call in self._all_calls():
                for name in self.qualified_names(call.func):
                    index.setdefault(name, []).append(call)
            self._calls = index
        found = {id(c): c for name in names for c in self._calls.get(name, ())}
        return sorted(found.values(), key=self.sort_key)

    def _all_calls(self) -> list[cst.Call]:
        return self.index.calls

    def sort_key(self, node: cst.CSTNode) -> tuple[int, int]:
        pos = self.positions[node].start
        return (pos.line, pos.column)

    def module_alias(self, node: cst.CSTNode, module: str, also: Sequence[str] = ()) -> str | None:
        """The name under which ``module`` (or one of ``also``) is imported, visible from ``node``."""
        found = self._module_binding(node, {module, *also})
        return None if found is None else found[0]

    def _module_binding(
        self, node: cst.CSTNode, wanted: set[str]
    ) -> tuple[str, Scope, list[cst.Import | cst.ImportFrom], str] | None:
        """(bound name, the scope binding it, the import statements that bind it to a wanted
        module, the module) for the innermost scope visible from ``node`` that imports one."""
        scope: Scope | None = self.scopes.get(node)
        start = scope
        while scope is not None:
            if not (isinstance(scope, ClassScope) and scope is not start):
                found: dict[str, tuple[list[cst.Import | cst.ImportFrom], str]] = {}
                order: list[str] = []
                for assignment in scope.assignments:
                    imp = getattr(assignment, "node", None)
                    target = None
                    if isinstance(imp, cst.Import):
                        for alias in imp.names:
                            bound = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
                            name = alias.evaluated_name if alias.evaluated_alias else bound
                            if bound == assignment.name and name in wanted:
                                target = name
                    elif isinstance(imp, cst.ImportFrom) and not isinstance(imp.names, cst.ImportStar):
                        base = _dotted(imp.module) if imp.module is not None and not imp.relative else None
                        for alias in imp.names:
                            bound = alias.evaluated_alias or alias.evaluated_name
                            if base and bound == assignment.name and f"{base}.{alias.evaluated_name}" in wanted:
                                target = f"{base}.{alias.evaluated_name}"
                    if target is not None and isinstance(imp, (cst.Import, cst.ImportFrom)):
                        if assignment.name not in found:
                            found[assignment.name] = ([], target)
                            order.append(assignment.name)
                        found[assignment.name][0].append(imp)
                if found:
                    # Several names for the module (``import tensorflow as tf`` and ``as tf2``): the
                    # one imported first, so the answer does not depend on set iteration order.
                    best = min(order, key=lambda n: min(self.sort_key(i) for i in found[n][0]))
                    imports, target = found[best]
                    return best, scope, sorted(imports, key=self.sort_key), target
            if isinstance(scope, GlobalScope):
                break
            scope = scope.parent
        return None

    def bound_before(self, node: cst.CSTNode, module: str, also: Sequence[str] = ()) -> tuple[str | None, str | None]:
        """How ``module`` is spelled at ``node``, and an import line for just before the new code
        at ``node`` when the binding is not there yet when that code runs.

        Returns ``(None, None)`` when nothing visible imports the module. The binding is there
        when an import of it in the node's own scope (a comprehension counts as the code around
        it) comes earlier in the source; a name the node's function takes from an enclosing
        scope is bound by the time the function runs."""
        found = self._module_binding(node, {module, *also})
        if found is None:
            return None, None
        name, scope, imports, target = found
        own: Scope | None = self.scopes.get(node)
        while isinstance(own, ComprehensionScope):
            own = own.parent
        if own is not scope:
            return name, None
        here = self.sort_key(node)
        if any(self.sort_key(imp) <= here for imp in imports):  # at ``node``: code goes after it
            return name, None
        return name, _import_line(target, name)

    def imported_later(self, node: cst.CSTNode, name: str) -> bool:
        """True when module-level ``node`` runs before every import that binds ``name``."""
        scope = self.scopes.get(node)
        if not isinstance(scope, GlobalScope) or name not in scope:
            return False
        line = self.positions[node].start.line
        for assignment in scope[name]:
            bound_at = getattr(assignment, "node", None)
            if bound_at is None or self.positions[bound_at].start.line <= line:
                return False
        return True

    def tf_prelude(self, node: cst.CSTNode, tf: str) -> list[str]:
        """An inline ``import tensorflow as tf`` for new code that runs before the file binds ``tf``
        (a module-level import further down, or a function-local import below the code)."""
        name, line = self.bound_before(node, "tensorflow")
        if name == tf and line is not None:
            return [line]
        if name is None and self.imported_later(node, tf):
            return [f"import tensorflow as {tf}" if tf != "tensorflow" else "import tensorflow"]
        return []

    def tf_name(self, node: cst.CSTNode, edits: list[Edit]) -> str:
        """How to spell the ``tensorflow`` module at ``node``; adds an import edit if needed."""
        name = self.module_alias(node, "tensorflow")
        if name is None:
            edits.append(AddImport("tensorflow", "tf"))
            return "tf"
        return name

    def spell_module(self, node: cst.CSTNode, module: str, alias: str | None, edits: list[Edit],
                     also: Sequence[str] = ()) -> str | None:
        """The spelling of ``module`` for new code in the statement holding ``node``, with the edit
        that makes it bound there: nothing when it already is, an import just before that
        statement when the file binds it only later (never a use before the binding), else an
        import at the top (``alias`` or the plain name). None when the name is taken by
        something else and no other spelling is free."""
        name, line = self.bound_before(node, module, also)
        if name is not None:
            if line is not None:
                edits.append(InsertBefore(self.unit_of(node), [statement(line + "\n", self.module)]))
            return name
        wanted = alias or module.split(".")[0]
        scope = self.scopes.get(node)
        if scope is not None and wanted in scope:
            return None
        edits.append(AddImport(module, alias))
        return wanted

    def python_random(self, node: cst.CSTNode, edits: list[Edit]) -> str:
        """The spelling of Python's ``random`` module at ``node`` (``import random`` added when
        needed; ``python_random`` when ``random`` names something else, e.g. ``tf.random``)."""
        name = self.spell_module(node, "random", None, edits)
        if name is None:
            name = self.spell_module(node, "random", "python_random", edits) or "python_random"
        return name

    def keras_utils(self, node: cst.CSTNode, edits: list[Edit]) -> str:
        """The spelling of ``keras.utils`` for the configured Keras target."""
        if self.options.keras_target == "tf.keras":
            return f"{self.tf_spelling(node, edits)}.keras.utils"
        name = self.spell_module(node, "keras", None, edits, also=("tensorflow.keras",))
        if name is not None:
            return f"{name}.utils"
        # "keras" is taken by something else (e.g. the backend module): go through tf.
        return f"{self.tf_spelling(node, edits)}.keras.utils"

    def tf_spelling(self, node: cst.CSTNode, edits: list[Edit]) -> str:
        """``tf_name`` for new code in the statement holding ``node``, never used before it is bound."""
        return self.spell_module(node, "tensorflow", "tf", edits) or self.tf_name(node, edits)

    # -- statements and blocks ---------------------------------------------------------------

    def unit_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement unit holding ``node``: a small statement, or a compound statement."""
        current = node
        while True:
            parent = self.parents.get(current)
            if parent is None or isinstance(parent, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                return current
            if isinstance(parent, (cst.IndentedBlock, cst.Module)):
                return current
            current = parent

    def block_of(self, unit: cst.CSTNode) -> cst.CSTNode:
        parent = self.parents[unit]
        if isinstance(parent, cst.SimpleStatementLine):
            parent = self.parents[parent]
        return parent

    def in_suite(self, unit: cst.CSTNode) -> bool:
        return isinstance(self.parents.get(unit), cst.SimpleStatementSuite)

    def block_units(self, block: cst.CSTNode) -> list[cst.CSTNode]:
        """The statement units of a block, flattened in order."""
        units = self._blocks.get(block)
        if units is None:
            units = []
            for stmt in getattr(block, "body", ()):
                if isinstance(stmt, cst.SimpleStatementLine):
                    units.extend(stmt.body)
                elif isinstance(stmt, cst.BaseSmallStatement):
                    units.append(stmt)
                else:
                    units.append(stmt)
            self._blocks[block] = units
        return units

    def enclosing(self, node: cst.CSTNode, kinds: tuple[type, ...]) -> Iterator[cst.CSTNode]:
        """Ancestors of ``node`` of the given kinds, innermost first."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, kinds):
                yield current
            current = self.parents.get(current)

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    # -- findings ----------------------------------------------------------------------------

    def report(
        self,
        node: cst.CSTNode,
        code: str,
        message: str,
        safety: Safety,
        edits: Sequence[Edit] = (),
        claim: Iterable[cst.CSTNode] = (),
        bundle: str | None = None,
        bundle_size: int = 0,
    ) -> Finding:
        """Record what a rule would do. ``claim`` is the rule's own bookkeeping (nodes it has
        dealt with); no rule reads another's claims: overlapping edits are resolved by the
        engine once it knows which findings are accepted."""
        pos = self.positions[node].start
        finding = Finding(code, pos.line, pos.column + 1, message, safety, list(edits), bundle=bundle,
                          bundle_size=bundle_size, order=self.rule_order)
        self.findings.append(finding)
        self.claimed.update(claim)
        return finding


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def import_statements(module: cst.Module) -> list[cst.Import | cst.ImportFrom]:
    """The module's import statements in source order (the order a visitor meets them).

    Imports are small statements, so only statement bodies are walked, never
    expressions: a fraction of the cost of visiting every node."""
    found: list[cst.Import | cst.ImportFrom] = []

    def walk(node: cst.CSTNode) -> None:
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            found.append(node)
            return
        if isinstance(node, cst.BaseSmallStatement):
            return
        # Statement containers: Module, lines, suites, compound statements and their
        # clauses. These attributes hold statements/clauses, never expressions, on them.
        for attr in _STATEMENT_FIELDS:
            child = getattr(node, attr, None)
            if isinstance(child, cst.CSTNode):
                walk(child)
            elif isinstance(child, (list, tuple)):
                for item in child:
                    walk(item)

    walk(module)
    return found


# In source order: try body, except handlers, else, finally; if/for/while body, else; match cases.
_STATEMENT_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")


def _import_roots(stmt: cst.Import | cst.ImportFrom) -> set[str]:
    """First components of the qualified names an import can give (``""`` when relative)."""
    if isinstance(stmt, cst.ImportFrom):
        if stmt.relative or stmt.module is None:
            return {""}
        return {_dotted(stmt.module).split(".", 1)[0]}
    return {_dotted(alias.name).split(".", 1)[0] for alias in stmt.names}


def _imports_by_binding(
    statements: Iterable[cst.Import | cst.ImportFrom],
) -> dict[str, list[cst.Import | cst.ImportFrom]]:
    """Import statements by the first component of each name they bind (``import a.b``
    binds ``a.b`` and ``a``; ``import a.b as c`` binds ``c``; star imports bind nothing)."""
    index: dict[str, list[cst.Import | cst.ImportFrom]] = {}
    for stmt in statements:
        if isinstance(stmt.names, cst.ImportStar):
            continue
        for alias in stmt.names:
            bound = alias.asname.name if alias.asname is not None else alias.name
            root = _dotted(bound).split(".", 1)[0]  # type: ignore[arg-type]
            bucket = index.setdefault(root, [])
            if not bucket or bucket[-1] is not stmt:
                bucket.append(stmt)
    return index


def _import_line(target: str, name: str) -> str:
    """The import statement that binds ``name`` to the module ``target``."""
    if name == target:
        return f"import {target}"
    base, _, obj = target.rpartition(".")
    if base:  # bound by a from-import (``from tensorflow import keras``)
        return f"from {base} import {obj}" + ("" if obj == name else f" as {name}")
    return f"import {target} as {name}"


def statement(code: str, module: cst.Module) -> cst.BaseStatement:
    """Parse one generated statement with the file's own newline and indentation."""
    return cst.parse_statement(code, config=module.config_for_parsing)


def expression(code: str, module: cst.Module) -> cst.BaseExpression:
    return cst.parse_expression(code, config=module.config_for_parsing)
