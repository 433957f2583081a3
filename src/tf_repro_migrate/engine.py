"""The migration of one source text, top to bottom:

1. pre-filter: a text that contains none of the rules' trigger words is left alone
   without being parsed (most files of any real tree); then one in which no name can
   resolve, through its imports, to a name a rule asks about (prescreen.py, on Python's
   own fast parser) is left alone too;
2. parse once with libcst; the scope analysis runs once, and only when some call could
   resolve to a wanted name; parents and calls come from one quick walk (walk.py),
   positions only for the statements asked about;
3. run every enabled rule on that one view; rules record findings and edits;
4. drop findings on suppressed lines; keep the edits of the safe findings (and of the
   unsafe ones with ``--unsafe-fixes``);
5. apply the edits in one transform, together with the import clean-up planned from the
   same scope analysis (imports.py): the imports the new code needs and the removal of the
   imports the removed code leaves unused. Shapes the plan does not cover go through
   libcst's ``AddImportsVisitor`` / ``RemoveImportsVisitor`` instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

import libcst as cst
from libcst.metadata import MetadataWrapper

from tf_repro_migrate.analysis import compat_v1_file, optional_import_of
from tf_repro_migrate.apply import apply_edits
from tf_repro_migrate.context import Context, Options
from tf_repro_migrate.findings import (
    AddImport,
    Edit,
    Finding,
    InsertAfter,
    InsertBefore,
    ReplaceNode,
    ReplaceStatement,
    Safety,
)
from tf_repro_migrate.imports import (
    IMPORT_TIME_MODULES,
    finish_additions,
    import_floor,
    plan_additions,
    plan_removals,
)
from tf_repro_migrate.libcst_internals import unused_imports
from tf_repro_migrate.prescreen import could_match
from tf_repro_migrate.rules import Rule, all_rules, all_triggers

if TYPE_CHECKING:
    from libcst.codemod import Codemod, CodemodContext

# libcst.codemod (and the libcst.matchers it loads) is imported only when a file has edits to
# apply: it is a fifth of the start-up time, and most runs and files never need it.

__all__ = ["Options", "Result", "migrate_source", "might_match", "parse"]

_SUPPRESS = re.compile(r"#\s*tf-repro-migrate:\s*ignore(?:\[(?P<codes>[A-Z0-9,\s]+)\])?")


@dataclass
class Result:
    """The outcome for one source text."""

    old: str
    new: str
    findings: list[Finding] = field(default_factory=list)
    skipped: bool = False  # the pre-filter found nothing to look at

    @property
    def changed(self) -> bool:
        return self.new != self.old

    @property
    def held_back(self) -> int:
        return sum(1 for f in self.findings if f.safety is Safety.UNSAFE and f.edits and not f.applied)

    @property
    def manual(self) -> int:
        return sum(1 for f in self.findings if f.safety is Safety.MANUAL)


@lru_cache(maxsize=1)
def _rules() -> tuple[type[Rule], ...]:
    return tuple(sorted(all_rules(), key=lambda r: (r.order, r.code)))


@lru_cache(maxsize=1)
def _triggers() -> tuple[str, ...]:
    return all_triggers()


# Asked about one change (a finding, or the findings of a bundle) with the file's analysis;
# True takes it. ``--interactive`` shows the change and asks the user.
Decide = Callable[[list[Finding], "Analysis"], bool]


def might_match(text: str) -> bool:
    """Cheap pre-filter: can this text contain any boilerplate a rule looks for?"""
    return any(trigger in text for trigger in _triggers())


def parse(text: str) -> cst.Module:
    """Parse source text; raises ``libcst.ParserSyntaxError`` when it is not valid Python 3."""
    return cst.parse_module(text)


def migrate_source(text: str, options: Options | None = None, decide: Decide | None = None) -> Result:
    """Migrate one Python source text. Raises ``libcst.ParserSyntaxError`` if it does not parse.

    ``decide`` (see ``migrate_module``) is asked before each change is taken."""
    options = options or Options()
    if not might_match(text) or not could_match(text):
        return Result(text, text, skipped=True)
    return migrate_module(parse(text), text, options, decide)


def migrate_module(module: cst.Module, text: str, options: Options, decide: Decide | None = None) -> Result:
    """Analyse, decide which fixes to take, resolve their overlaps, render.

    ``decide`` is asked about each change in turn (a finding, or the findings of a bundle,
    together) that the default policy would apply and that the changes accepted so far do
    not already replace; without it every such change is taken (``--write``). ``--interactive``
    passes a function that shows the change and asks."""
    analysis = analyse_module(module, text, options)
    accepted = choose(analysis, options, decide)
    if not accepted:
        return Result(text, text, _visible(analysis.findings))
    new_text = render(analysis, accepted)
    for f in accepted:
        f.applied = True
    return Result(text, new_text, _visible(analysis.findings))


def choose(analysis: "Analysis", options: Options, decide: Decide | None = None) -> list[Finding]:
    """The findings whose edits are applied, in priority order: each change the default policy
    takes (safe fixes; unsafe ones with ``--unsafe-fixes``) unless ``decide`` declines it, minus
    those that an accepted change makes moot (their edits lie inside code it replaces)."""
    accepted: list[Finding] = []
    superseded: dict[int, str] = {}  # id of a finding -> the code of the accepted one replacing it
    descendants: dict[int, frozenset[int]] = {}  # shared by the trial resolutions of this file
    for change in changes(analysis.findings, options):
        trial = [*accepted, *change]
        kept, dropped = _resolve(trial, descendants)
        if len(kept) != len(trial):
            superseded.update(dropped)  # an accepted change already replaces this code: not offered
            continue
        if decide is None or decide(change, analysis):
            accepted = trial
    final, dropped = _resolve(accepted, descendants)
    superseded.update(dropped)
    for f in analysis.findings:
        f.superseded_by = superseded.get(id(f))
    return final


def changes(findings: list[Finding], options: Options) -> list[list[Finding]]:
    """The candidate changes in priority order (earlier rule first, then position): single
    findings, or the findings of one bundle together (only when all of them are candidates)."""
    candidates = sorted((f for f in findings if default_accepted(f, options)), key=_priority)
    bundles: dict[str, list[Finding]] = {}
    for f in findings:
        if f.bundle is not None and f.edits:
            bundles.setdefault(f.bundle, []).append(f)
    out: list[list[Finding]] = []
    seen: set[str] = set()
    for f in candidates:
        if f.bundle is None:
            out.append([f])
        elif f.bundle not in seen:
            seen.add(f.bundle)
            members = bundles[f.bundle]
            complete = len(members) >= max(m.bundle_size for m in members)
            if complete and all(default_accepted(m, options) for m in members):
                out.append(sorted(members, key=_priority))
    return out


def _priority(f: Finding) -> tuple[int, int, int, str]:
    return (f.order, f.line, f.col, f.code)


def _resolve(accepted: list[Finding], descendants: dict[int, frozenset[int]]) -> tuple[list[Finding], dict[int, str]]:
    """The accepted findings whose edits survive, in priority order, and for each one dropped
    (by id) the code of the finding that replaces it.

    A finding whose edits touch code that an earlier (higher-priority) accepted finding replaces
    or removes is superseded, and so is every finding of its bundle. An insertion anchored
    *at* a replaced statement composes with the replacement (it goes after it); one anchored
    inside it does not."""
    ordered = sorted(accepted, key=_priority)
    inside: set[int] = set()  # ids of nodes strictly inside replaced code
    replaced: set[int] = set()  # ids of replaced nodes
    kept: list[Finding] = []
    superseded: dict[int, str] = {}
    dropped_bundles: dict[str, str] = {}
    winners: dict[int, str] = {}
    for f in ordered:
        olds = [e.old for e in f.edits if isinstance(e, (ReplaceNode, ReplaceStatement))]
        anchors = [e.anchor for e in f.edits if isinstance(e, (InsertAfter, InsertBefore))]
        clash = next((winners.get(id(n), "?") for n in olds if id(n) in inside or id(n) in replaced), None)
        clash = clash or next((winners.get(id(n), "?") for n in anchors if id(n) in inside), None)
        own: set[int] = set()
        if clash is None:
            for node in olds:
                own |= _descendants(node, descendants)
            hit = own & replaced
            if hit:  # it would replace code that another accepted finding already edits
                clash = winners.get(next(iter(sorted(hit))), "?")
        if clash is not None:
            superseded[id(f)] = clash
            if f.bundle is not None:
                dropped_bundles[f.bundle] = clash
            continue
        kept.append(f)
        for node in olds:
            replaced.add(id(node))
            winners[id(node)] = f.code
        for d in own - replaced:
            inside.add(d)
            winners.setdefault(d, f.code)
    if dropped_bundles:
        for f in kept:
            if f.bundle in dropped_bundles:
                superseded[id(f)] = dropped_bundles[f.bundle]
        kept = [f for f in kept if f.bundle not in dropped_bundles]
    return kept, superseded


def _descendants(node: cst.CSTNode, cache: dict[int, frozenset[int]]) -> frozenset[int]:
    """Ids of ``node`` and every node below it (``cache``: one file's answers, since ``choose``
    asks about the same nodes once per candidate change)."""
    found = cache.get(id(node))
    if found is None:
        found = cache[id(node)] = _walk_ids(node)
    return found


def _walk_ids(node: cst.CSTNode) -> frozenset[int]:
    found: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        found.add(id(current))
        stack.extend(current.children)
    return frozenset(found)


def _visible(findings: list[Finding]) -> list[Finding]:
    """What the user is shown: not the findings an applied change replaced."""
    return [f for f in findings if f.superseded_by is None or f.applied]


@dataclass
class Analysis:
    """A parsed file and what the rules found in it, before anything is applied."""

    text: str
    findings: list[Finding]
    ctx: Context

    @property
    def module(self) -> cst.Module:
        return self.ctx.module

    @property
    def wrapper(self) -> MetadataWrapper:
        return self.ctx.wrapper


def default_accepted(finding: Finding, options: Options) -> bool:
    """Safe fixes always; unsafe ones with ``--unsafe-fixes``; manual findings never."""
    if not finding.edits:
        return False
    return finding.safety is Safety.SAFE or (finding.safety is Safety.UNSAFE and options.unsafe_fixes)


def analyse_module(module: cst.Module, text: str, options: Options) -> Analysis:
    """Run every enabled rule over one metadata pass; findings sorted by position."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    ctx = Context(wrapper, options)
    ctx.text = text
    compat_v1 = compat_v1_file(ctx) is not None
    for rule_cls in _rules():
        if not options.enabled(rule_cls.code):
            continue
        if compat_v1 and not rule_cls.in_compat_v1_files:
            continue
        if rule_cls.triggers and not any(t in text for t in rule_cls.triggers):
            continue
        ctx.rule_order = rule_cls.order
        rule_cls().run(ctx)
    _hold_back_hard_imports(ctx)
    findings = _unsuppressed(ctx, text)
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    return Analysis(text, findings, ctx)


def render(analysis: Analysis, accepted: list[Finding]) -> str:
    """The source text with the edits of ``accepted`` applied and imports fixed up."""
    module, text = analysis.module, analysis.text
    if not accepted:
        return text
    edits = [e for f in accepted for e in f.edits]
    removals = plan_removals(analysis.ctx, text, edits)
    if removals is None:
        new_module = _render_with_libcst(analysis, edits)
    else:
        placed, lines = plan_additions(module, edits, import_floor(analysis.ctx))
        new_module = apply_edits(module, [*edits, *removals, *placed], analysis.ctx.parents)
        new_module = finish_additions(new_module, lines)
    return final_text(new_module, text)


def final_text(new_module: cst.Module, text: str) -> str:
    """The code of the rewritten module, without blank lines its removed first statements left."""
    new_text = new_module.code
    if new_text[:1] in ("\n", "\r") and text[:1] not in ("\n", "\r"):
        new_text = new_text.lstrip("\r\n")
    return new_text


def _render_with_libcst(analysis: Analysis, edits: list[Edit]) -> cst.Module:
    """The edits, then libcst's import visitors (the shapes ``plan_removals`` leaves to them)."""
    module, wrapper = analysis.module, analysis.wrapper
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import RemoveImportsVisitor
    # libcst's own helper behind remove_unused_import_by_node; private, so None if it moves
    from tf_repro_migrate.libcst_internals import RemovedNodeVisitor

    # New imports are placed as on the main path (after the first import block, never above an
    # environment write that the first TensorFlow import reads), then libcst removes the unused ones.
    placed, lines = plan_additions(module, edits, import_floor(analysis.ctx))
    new_module = finish_additions(apply_edits(module, [*edits, *placed]), lines)
    imports = CodemodContext(wrapper=wrapper)
    removed_names: RemovedNodeVisitor | None = None
    for edit in edits:
        if isinstance(edit, (ReplaceStatement, ReplaceNode)):
            if isinstance(edit.old, (cst.Import, cst.ImportFrom)) or RemovedNodeVisitor is None:
                RemoveImportsVisitor.remove_unused_import_by_node(imports, edit.old)
            else:
                # What remove_unused_import_by_node does, with one visitor for all the
                # edits: building a matcher visitor costs more than visiting a statement.
                removed_names = removed_names or RemovedNodeVisitor(imports)
                edit.old.visit(removed_names)
    scheduled = imports.scratch.get(RemoveImportsVisitor.CONTEXT_KEY)
    if scheduled:
        # ``import tensorflow`` / ``import keras`` stay even when unused (imports.keeps_running).
        imports.scratch[RemoveImportsVisitor.CONTEXT_KEY] = [
            entry for entry in scheduled
            if not (entry[1] is None and entry[0] in IMPORT_TIME_MODULES)
        ]
    if imports.scratch.get(RemoveImportsVisitor.CONTEXT_KEY):
        new_module = remove_unused_imports(imports, new_module)
    return new_module


_REMOVED_MARKER = "__tf_repro_migrate_removed_import__"


@lru_cache(maxsize=1)
def _marking_import_remover() -> type:
    """The remover class, built on first use (see the note on libcst.codemod above)."""
    from libcst.codemod.visitors import RemoveImportsVisitor

    class _MarkingImportRemover(RemoveImportsVisitor):
        """RemoveImportsVisitor, except that a removed import leaves a marker statement,
        so the import's comments can move to the next statement (libcst would drop them)."""

        @staticmethod
        def _marker() -> cst.Expr:
            return cst.Expr(cst.Name(_REMOVED_MARKER))

        def visit_Module(self, node: cst.Module) -> bool:  # type: ignore[override]
            super().visit_Module(node)  # finds the module's unused imports
            # When none of them is one we were asked to remove, every leave_Import* below would
            # keep its node: skip the walk over the whole tree (the module comes back as it is).
            return self._could_remove()

        def _could_remove(self) -> bool:
            """Whether an unused import may be on the removal list (a superset of leave_Import*'s test)."""
            unused = unused_imports(self)  # private in libcst: if absent, just walk
            if unused is None:
                return True
            objects = {obj for pairs in self.unused_obj_imports.values() for obj, _ in pairs}
            for alias, stmt in unused.items():
                if isinstance(stmt, cst.Import) and alias.evaluated_name in self.unused_module_imports:
                    return True
                if isinstance(stmt, cst.ImportFrom) and alias.evaluated_name in objects:
                    return True
            return False

        def leave_Import(self, original_node, updated_node):  # type: ignore[no-untyped-def,override]
            result = super().leave_Import(original_node, updated_node)
            return self._marker() if isinstance(result, cst.RemovalSentinel) else result

        def leave_ImportFrom(self, original_node, updated_node):  # type: ignore[no-untyped-def,override]
            result = super().leave_ImportFrom(original_node, updated_node)
            return self._marker() if isinstance(result, cst.RemovalSentinel) else result

    return _MarkingImportRemover


class _MarkerFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[cst.CSTNode] = []

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Name) and node.value.value == _REMOVED_MARKER:
            self.found.append(node)


def remove_unused_imports(context: CodemodContext, module: cst.Module) -> cst.Module:
    """Remove the imports scheduled in ``context`` that are now unused, keeping their comments."""
    marked = transform(_marking_import_remover()(context), module)
    finder = _MarkerFinder()
    marked.visit(finder)
    return apply_edits(marked, [ReplaceStatement(node, []) for node in finder.found])


def transform(codemod: Codemod, module: cst.Module) -> cst.Module:
    """``codemod.transform_module(module)``, without its deep copy of the tree when no node
    appears twice in it (the copy only exists to make nodes unique for the metadata)."""
    if codemod.should_allow_multiple_passes() or _has_shared_nodes(module):
        return codemod.transform_module(module)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    outer = codemod.context
    with codemod.resolve(wrapper):  # what Codemod._handle_metadata_reference does, less the copy
        codemod.context = replace(outer, wrapper=wrapper)
        try:
            return codemod.transform_module_impl(wrapper.module)
        finally:
            codemod.context = replace(codemod.context, wrapper=outer.wrapper)


class _SharedNodeFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.shared = False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.shared or id(node) in self.seen:
            self.shared = True
            return False
        self.seen.add(id(node))
        return True


def _has_shared_nodes(module: cst.Module) -> bool:
    """Whether some node object appears at two places of the tree (edits can reuse nodes)."""
    finder = _SharedNodeFinder()
    module.visit(finder)
    return finder.shared


def _hold_back_hard_imports(ctx: Context) -> None:
    """A safe fix that adds ``import tensorflow`` (or ``keras``) at the top of a file that imports
    that package only under ``except ImportError`` would make an optional dependency required:
    such fixes become unsafe (held back unless ``--unsafe-fixes``)."""
    for finding in ctx.findings:
        if finding.safety is not Safety.SAFE:
            continue
        added = sorted({e.module for e in finding.edits if isinstance(e, AddImport)})
        optional = [m for m in added if optional_import_of(ctx, m)]
        if optional:
            finding.safety = Safety.UNSAFE
            finding.message += (
                f"; held back: it adds `import {optional[0]}` at the top of a file that imports "
                f"{optional[0]} only inside try/except ImportError"
            )


def _unsuppressed(ctx: Context, text: str) -> list[Finding]:
    """Drop findings on lines carrying ``# tf-repro-migrate: ignore`` (or ``ignore[CODE,...]``),
    and findings whose edits would change such a line (a consolidation that would remove it)."""
    if "tf-repro-migrate:" not in text:
        return list(ctx.findings)
    suppressed: dict[int, set[str] | None] = {}  # line -> codes (None: every code)
    for number, line in enumerate(text.splitlines(), 1):
        match = _SUPPRESS.search(line)
        if match is not None:
            codes = match.group("codes")
            suppressed[number] = None if codes is None else {c.strip() for c in codes.split(",")}

    def hits(code: str, first: int, last: int) -> bool:
        for number in range(first, last + 1):
            if number in suppressed and (suppressed[number] is None or code in suppressed[number]):  # type: ignore[operator]
                return True
        return False

    kept = []
    for f in ctx.findings:
        if hits(f.code, f.line, f.line):
            continue
        touched = [e.old for e in f.edits if isinstance(e, (ReplaceNode, ReplaceStatement))]
        if any(hits(f.code, ctx.positions[n].start.line, ctx.positions[n].end.line) for n in touched):
            continue
        kept.append(f)
    return kept


