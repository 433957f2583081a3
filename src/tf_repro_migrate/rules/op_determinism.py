"""TRM005 op-determinism: emit ``tf.config.experimental.enable_op_determinism()`` where the legacy code asked for determinism.

The signals: ``TF_DETERMINISTIC_OPS`` / ``TF_CUDNN_DETERMINISTIC`` set to a true value
in ``os.environ`` (any spelling: subscript, ``setdefault``, ``update``, ``putenv``), a
single-threaded ``ConfigProto`` (intra = inter = 1, the Keras FAQ's way to get
repeatable results), and ``tfdeterminism.patch()`` (removed: it does not support
TF2).

The call goes where the request was made: in the same block (the function that set
``TF_DETERMINISTIC_OPS``, the body of ``if '--deterministic' in sys.argv:``, the
notebook cell), so a conditional request stays conditional and a helper that merely
seeds never gets it. Inside that block it follows the TF seed when the seed is there
too, else the request itself (never before the block's ``import tensorflow``). One
call per block; a request nested in a block that already gets (or has) the call is
covered by it.

With op determinism on, TF random ops that have no seed raise, so the fix is *safe*
only when the file also seeds TensorFlow; without a seed it is *unsafe* (held back
unless ``--unsafe-fixes``). Env vars are kept: they are harmless and older TF versions
still read them. Requires TF >= 2.9.

Docs: https://www.tensorflow.org/api_docs/python/tf/config/experimental/enable_op_determinism
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from tf_repro_migrate.analysis import (
    OP_DETERMINISM,
    SeedCall,
    env_writes,
    per_graph_context,
    seed_calls,
    truthy_literal,
    version_gated,
)
from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import Edit, InsertAfter, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.seeding import seed_landing
from tf_repro_migrate.sessions import analyse

DETERMINISM_ENV = ("TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC")
TFDETERMINISM_PATCH = ("tfdeterminism.patch", "tfdeterminism.enable_determinism")

# notebook.py joins a notebook's cells into one program with this comment before each
# cell (notebook.CELL_MARK; a test checks the two agree). notebook.py imports the engine,
# so importing it here would be circular.
_CELL_MARK = re.compile(r"^# __tf_repro_migrate_cell_(\d+)__$")
_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_THREAD_FIELDS = ("intra_op_parallelism_threads", "inter_op_parallelism_threads")


@dataclass(frozen=True)
class _Signal:
    node: cst.CSTNode
    unit: cst.CSTNode
    description: str
    is_patch: bool = False


@dataclass
class _Request:
    """The signals of one block (and notebook cell): one call for all of them."""

    block: cst.CSTNode
    cell: int | None
    signals: list[_Signal] = field(default_factory=list)


def seed_place(ctx: Context, seed: SeedCall) -> cst.CSTNode:
    """The statement where the TF seed ends up after migration: the seed plan (seeding.py)
    says where a seed merged into one ``keras.utils.set_random_seed`` call lands."""
    return seed_landing(ctx).get(seed.unit, seed.unit)


def _top_statement(ctx: Context, node: cst.CSTNode) -> cst.CSTNode:
    current = node
    while True:
        parent = ctx.parents.get(current)
        if parent is None or isinstance(parent, cst.Module):
            return current
        current = parent


def _cells(ctx: Context) -> dict[cst.CSTNode, int] | None:
    """Top-level statement -> notebook cell index, or None when the file is not a notebook."""
    if "notebook_cells" in ctx.cache:
        return ctx.cache["notebook_cells"]  # type: ignore[return-value]
    found: dict[cst.CSTNode, int] = {}
    cell: int | None = None
    for line in ctx.module.header:
        if line.comment is not None and (m := _CELL_MARK.match(line.comment.value)):
            cell = int(m.group(1))
    for stmt in ctx.module.body:
        for line in stmt.leading_lines:
            if line.comment is not None and (m := _CELL_MARK.match(line.comment.value)):
                cell = int(m.group(1))
        if cell is not None:
            found[stmt] = cell
    result = found if cell is not None else None
    ctx.cache["notebook_cells"] = result
    return result


def _cell_of(ctx: Context, node: cst.CSTNode) -> int | None:
    cells = _cells(ctx)
    return None if cells is None else cells.get(_top_statement(ctx, node))


def _unit_in_block(ctx: Context, node: cst.CSTNode, block: cst.CSTNode) -> cst.CSTNode | None:
    """The statement unit of ``block`` that holds ``node`` in the same scope (not in a
    nested function, class or lambda), or None."""
    current: cst.CSTNode | None = node
    while current is not None:
        if isinstance(current, _SCOPES):
            return None
        parent = ctx.parents.get(current)
        if parent is block or (isinstance(parent, cst.SimpleStatementLine) and ctx.parents.get(parent) is block):
            return current
        current = parent
    return None


def _covers(ctx: Context, outer: cst.CSTNode, outer_cell: int | None, unit: cst.CSTNode, cell: int | None) -> bool:
    """A call placed in block ``outer`` also covers a request at ``unit``: ``outer`` holds
    ``unit`` (at any depth) and, in a notebook, they are in the same cell."""
    if outer_cell != cell:
        return False
    current: cst.CSTNode | None = unit
    while current is not None:
        if current is outer:
            return True
        current = ctx.parents.get(current)
    return False


def _place(ctx: Context, block: cst.CSTNode) -> str:
    """`` in `f()` `` / `` inside the `if` on line N``: where a request's block is, for the message."""
    owner = ctx.parents.get(block)
    if isinstance(owner, cst.FunctionDef):
        return f" in `{owner.name.value}()`"
    kinds = {cst.If: "if", cst.Else: "else", cst.For: "for", cst.While: "while", cst.With: "with", cst.Try: "try"}
    for kind, word in kinds.items():
        if isinstance(owner, kind):
            return f" inside the `{word}` on line {ctx.positions[owner].start.line}"
    return ""


def _env_read_at_import(ctx: Context, anchor: cst.CSTNode, tf: str) -> int | None:
    """The line of an ``os.environ`` write that runs after ``anchor`` but before the file's
    own ``import tensorflow``: an import added at ``anchor`` would run before it."""
    scope = ctx.scopes.get(anchor)
    bound = [getattr(a, "node", None) for a in (scope[tf] if scope is not None and tf in scope else ())]
    imports = [node for node in bound if isinstance(node, (cst.Import, cst.ImportFrom))]
    if not imports:
        return None
    start, end = ctx.sort_key(anchor), min(ctx.sort_key(i) for i in imports)
    lines = [ctx.sort_key(w.node) for w in env_writes(ctx)]
    between = sorted(k for k in lines if start < k < end)
    return between[0][0] if between else None


class OpDeterminism(Rule):
    code = "TRM005"
    name = "op-determinism"
    summary = "determinism env vars / single-thread config / tfdeterminism.patch -> enable_op_determinism()"
    safety = Safety.SAFE
    order = 60
    triggers = ("DETERMINISTIC", "tfdeterminism", "parallelism_threads")

    def run(self, ctx: Context) -> None:
        signals = self._signals(ctx)
        if not signals:
            return
        requests: dict[tuple[int, int | None], _Request] = {}
        for signal in signals:
            block, cell = ctx.block_of(signal.unit), _cell_of(ctx, signal.unit)
            requests.setdefault((id(block), cell), _Request(block, cell)).signals.append(signal)
        existing = [(ctx.block_of(ctx.unit_of(c)), _cell_of(ctx, c)) for c in ctx.calls_to(OP_DETERMINISM)]
        planned = [(r.block, r.cell) for r in requests.values()]
        seeds = [
            s for s in seed_calls(ctx)
            if s.library in ("tf", "tf2", "keras") and s.statement and per_graph_context(ctx, s.unit) is None
        ]
        for request in requests.values():
            first = request.signals[0]
            patches = [s.node for s in request.signals if s.is_patch]
            edits: list[Edit] = [ReplaceStatement(s.unit, []) for s in request.signals if s.is_patch]
            what = ", ".join(dict.fromkeys(s.description for s in request.signals))
            if any(_covers(ctx, b, c, first.unit, request.cell) for b, c in existing):
                if edits:
                    ctx.report(first.node, self.code,
                               "tfdeterminism.patch() removed: enable_op_determinism() is already called",
                               Safety.SAFE, edits, claim=patches)
                continue
            if any(b is not request.block and _covers(ctx, b, c, first.unit, request.cell) for b, c in planned):
                if edits:
                    ctx.report(first.node, self.code,
                               "tfdeterminism.patch() removed: enable_op_determinism() is emitted for the enclosing block",
                               Safety.SAFE, edits, claim=patches)
                continue
            anchor, after_seed = self._anchor(ctx, request, seeds)
            tf = ctx.tf_name(anchor, edits)
            prelude = ctx.tf_prelude(anchor, tf)
            lines = [*prelude, f"{tf}.config.experimental.enable_op_determinism()"]
            edits.append(InsertAfter(anchor, [statement(line + "\n", ctx.module) for line in lines]))
            where = ("after the seed" if after_seed else "where it was requested") + _place(ctx, request.block)
            early_env = _env_read_at_import(ctx, anchor, tf) if prelude else None
            if early_env is not None:
                message = (f"determinism requested ({what}) -> enable_op_determinism() {where}, which needs "
                           f"TensorFlow imported there: above the os.environ setting on line {early_env} that "
                           "TensorFlow reads when it is imported; move the request below `import tensorflow`")
                safety = Safety.UNSAFE
            elif seeds:
                message = f"determinism requested ({what}) -> tf.config.experimental.enable_op_determinism() {where}"
                safety = Safety.SAFE
            else:
                message = (f"determinism requested ({what}) -> enable_op_determinism() {where}; no TF seed in this "
                           "file, and unseeded random ops raise under op determinism: seed TensorFlow first")
                safety = Safety.UNSAFE
            ctx.report(first.node, self.code, message, safety, edits, claim=patches)

    @staticmethod
    def _signals(ctx: Context) -> list[_Signal]:
        signals: list[_Signal] = []
        for write in env_writes(ctx):
            if write.key in DETERMINISM_ENV and truthy_literal(write.value) and not version_gated(ctx, write.node):
                signals.append(_Signal(write.node, write.unit, f"{write.key} set"))
        for setup in analyse(ctx).setups:
            if setup.config is not None and setup.single_threaded():
                # The request is made where the thread counts are set (inside `if n > 0:` when so).
                threads = [f.unit for f in setup.fields if f.path in _THREAD_FIELDS]
                signals.append(_Signal(setup.config, max(threads, key=ctx.sort_key), "single-threaded ConfigProto"))
        for call in ctx.calls_to(TFDETERMINISM_PATCH):
            unit = ctx.unit_of(call)
            if isinstance(unit, cst.Expr) and unit.value is call:
                signals.append(_Signal(call, unit, "tfdeterminism.patch()", is_patch=True))
        signals.sort(key=lambda s: ctx.sort_key(s.node))
        return signals

    @staticmethod
    def _anchor(ctx: Context, request: _Request, seeds: list[SeedCall]) -> tuple[cst.CSTNode, bool]:
        """Where the call goes: after a TF seed in the request's block (True), else after
        the last signal, moved past the block's own ``import tensorflow`` (False)."""
        in_block: list[cst.CSTNode] = []
        for seed in seeds:
            unit = _unit_in_block(ctx, seed_place(ctx, seed), request.block)
            if unit is not None and _cell_of(ctx, unit) == request.cell:
                in_block.append(unit)
        if in_block:
            # The seed that set up the request's run: the last one before the request, else
            # the first one after it (the env var is often set above the imports).
            start = ctx.sort_key(request.signals[0].unit)
            before = [u for u in in_block if ctx.sort_key(u) < start]
            if before:
                return max(before, key=ctx.sort_key), True
            return min(in_block, key=ctx.sort_key), True
        units = ctx.block_units(request.block)
        anchor = request.signals[-1].unit
        for unit in units[units.index(anchor) + 1 :]:
            if _cell_of(ctx, unit) != request.cell:
                break
            if isinstance(unit, cst.Import) and any(
                a.evaluated_name == "tensorflow" or a.evaluated_name.startswith("tensorflow.") for a in unit.names
            ):
                anchor = unit
        return anchor, False
