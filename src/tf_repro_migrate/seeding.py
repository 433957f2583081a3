"""The seed plan: what a file's global seeding becomes, computed once and read by every rule.

TRM001 (rename a TF seed), TRM002 (merge seeds into ``keras.utils.set_random_seed``) and
TRM005 (op determinism after the seed) all depend on the same facts: which seed calls merge
into one, where the seeding of a set-up ends, and whether Python's ``random`` is seeded next
to a TF seed. They are decided here, from the file alone, before any rule reports, so that
no rule depends on another rule having run (or on what suppression, ``--skip`` or
``--interactive`` later keep): each rule reports what it would do, and the engine resolves
overlapping edits when it knows which findings are accepted.

Two facts of TF 2 / Keras 3 shape the plan:

* Keras 3 draws the seeds of unseeded initializers, ``Dropout`` and its global
  ``SeedGenerator`` from Python's ``random``. In TF1 with Keras 2, ``tf.set_random_seed(s)``
  fixed those too; ``tf.random.set_seed(s)`` alone does not. So a TF seed migrated to TF2
  whose scope does not seed Python's ``random`` also gets ``random.seed(s)`` next to it
  (TRM001), or merges with a NumPy seed of the same value into ``keras.utils.set_random_seed``
  (TRM002, which seeds all three).
* ``import tensorflow`` consumes Python ``random`` state, and import-time settings are read
  when TensorFlow or Keras is imported. Seeds merge only when nothing but comments, ``pass``,
  environment writes and imports of the standard library or NumPy runs between them and the
  merged call's place (the last of them): no call, no TensorFlow/Keras import. A file that
  already uses the TF2 seeding names is not reshuffled at all.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import ComprehensionScope, Scope

from tf_repro_migrate.analysis import (
    SeedCall,
    env_writes,
    graph_mode_file,
    never_none,
    per_graph_context,
    seed_calls,
    version_gated,
)
from tf_repro_migrate.context import Context

# Imports that may sit between merged seeds: they run no TensorFlow/Keras code and draw no
# Python random numbers.
_QUIET_MODULES = frozenset(sys.stdlib_module_names) | {"numpy", "__future__"}

# Calls whose value is the same each time they are evaluated (in one process): a seed
# expression made of these may be written twice (``tf.random.set_seed(s); random.seed(s)``).
_REPEATABLE_CALLS = frozenset({"int", "str", "float", "abs", "len", "os.environ.get", "os.getenv", "getattr"})


@dataclass(frozen=True)
class Consolidation:
    """Seed calls that become one ``keras.utils.set_random_seed(s)`` at the last one's place."""

    seeds: tuple[SeedCall, ...]  # source order; the TF seed and a NumPy seed, maybe a Python one

    @property
    def last(self) -> SeedCall:
        return self.seeds[-1]

    @property
    def tf_seed(self) -> SeedCall:
        return next(s for s in self.seeds if s.library == "tf")


@dataclass
class SeedPlan:
    consolidations: list[Consolidation] = field(default_factory=list)
    # statement unit of a seed -> the unit after which that set-up's seeding is complete
    landing: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)


def seed_plan(ctx: Context) -> SeedPlan:
    """The file's seed plan (cached on the context)."""
    cached = ctx.cache.get("seed_plan")
    if isinstance(cached, SeedPlan):
        return cached
    plan = SeedPlan()
    seeds = [s for s in seed_calls(ctx) if s.statement and s.expr is not None and not version_gated(ctx, s.call)]
    if seeds and not uses_tf2_seeding(ctx) and not graph_mode_file(ctx):
        by_unit = {s.unit: s for s in seeds}
        env_units = {w.unit for w in env_writes(ctx)}
        taken: set[cst.CSTNode] = set()
        for tf_seed in (s for s in seeds if s.library == "tf"):
            if tf_seed.unit in taken or per_graph_context(ctx, tf_seed.unit) is not None:
                continue
            group = _group(ctx, tf_seed, by_unit, env_units, taken)
            if group is not None:
                plan.consolidations.append(group)
                taken.update(s.unit for s in group.seeds)
    for group in plan.consolidations:
        for seed in group.seeds:
            plan.landing[seed.unit] = group.last.unit
    ctx.cache["seed_plan"] = plan
    ctx.cache["seed_landing"] = plan.landing  # read by TRM005 to place op determinism after the seed
    return plan


def seed_landing(ctx: Context) -> dict[cst.CSTNode, cst.CSTNode]:
    """Seed statement unit -> the unit after which its set-up's seeding is complete."""
    return seed_plan(ctx).landing


def uses_tf2_seeding(ctx: Context) -> bool:
    """The file already calls ``tf.random.set_seed`` or ``keras.utils.set_random_seed``."""
    return any(s.library in ("tf2", "keras") for s in seed_calls(ctx))


def _function_scope(ctx: Context, node: cst.CSTNode) -> Scope | None:
    scope = ctx.scopes.get(node)
    while isinstance(scope, ComprehensionScope):
        scope = scope.parent
    return scope


def python_seeded(ctx: Context, seed: SeedCall) -> bool:
    """Whether the scope (function, or module / notebook) of ``seed`` also seeds Python's
    ``random``: with ``random.seed(...)`` or ``keras.utils.set_random_seed(...)``."""
    scope = _function_scope(ctx, seed.call)
    return any(
        s.library in ("python", "keras") and _function_scope(ctx, s.call) is scope for s in seed_calls(ctx)
    )


def repeatable(ctx: Context, expr: cst.BaseExpression) -> bool:
    """Whether ``expr`` gives the same value when evaluated twice in a row (no calls but a few
    pure ones), so that it can seed Python's ``random`` as well as TensorFlow."""
    finder = _CallFinder()
    expr.visit(finder)
    for call in finder.calls:
        names = ctx.qualified_names(call.func) | {ctx.code(call.func)}
        if names.isdisjoint(_REPEATABLE_CALLS):
            return False
    return True


class _CallFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _quiet(ctx: Context, unit: cst.CSTNode, seed_units: set[cst.CSTNode], env_units: set[cst.CSTNode]) -> bool:
    """A statement that may sit between merged seeds: it runs no call (but an env write) and
    imports nothing that runs TensorFlow/Keras code."""
    if isinstance(unit, cst.Pass) or unit in seed_units or unit in env_units:
        return True
    if isinstance(unit, cst.Import):
        return all(a.evaluated_name.split(".")[0] in _QUIET_MODULES for a in unit.names)
    if isinstance(unit, cst.ImportFrom):
        if unit.relative or unit.module is None:
            return False
        return ctx.code(unit.module).split(".")[0] in _QUIET_MODULES
    return False


def _group(
    ctx: Context,
    tf_seed: SeedCall,
    by_unit: dict[cst.CSTNode, SeedCall],
    env_units: set[cst.CSTNode],
    taken: set[cst.CSTNode],
) -> Consolidation | None:
    assert tf_seed.expr is not None
    if not never_none(ctx, tf_seed.expr):
        return None  # keras.utils.set_random_seed(None) raises
    units = ctx.block_units(ctx.block_of(tf_seed.unit))
    seed_units = set(by_unit)
    index = units.index(tf_seed.unit)
    lo = hi = index
    while lo > 0 and _quiet(ctx, units[lo - 1], seed_units, env_units):
        lo -= 1
    while hi < len(units) - 1 and _quiet(ctx, units[hi + 1], seed_units, env_units):
        hi += 1
    text = ctx.code(tf_seed.expr)
    picked: dict[str, SeedCall] = {"tf": tf_seed}
    for unit in units[lo : hi + 1]:
        other = by_unit.get(unit)
        if other is None or unit in taken or other.expr is None:
            continue
        if other.library in ("python", "numpy") and other.library not in picked and ctx.code(other.expr) == text:
            picked[other.library] = other
    if "numpy" not in picked:
        return None
    if "python" not in picked and python_seeded(ctx, tf_seed):
        return None  # Python's random has its own seed here: merging would overwrite it
    group = sorted(picked.values(), key=lambda s: units.index(s.unit))
    first, last = units.index(group[0].unit), units.index(group[-1].unit)
    for unit in units[first : last + 1]:
        other = by_unit.get(unit)
        if other is not None and other not in group and other.library in ("python", "numpy", "tf"):
            return None  # another seed in between would be overwritten by the merged call
    return Consolidation(tuple(group))
