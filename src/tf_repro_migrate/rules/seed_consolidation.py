"""TRM002 seed-consolidation: ``random.seed(s)`` + ``np.random.seed(s)`` + the TF seed -> ``keras.utils.set_random_seed(s)``.

``keras.utils.set_random_seed(s)`` seeds Python's ``random``, NumPy and the backend
with one value. It replaces the three calls only when

* all three are statements of one block, consecutive apart from other boilerplate
  (imports, ``os.environ[...]`` writes, session set-up) and comments;
* they use the same seed expression (compared as source text, copied verbatim);
* the seed cannot be ``None`` (``keras.utils.set_random_seed(None)`` raises): an int
  literal, ``int(...)``, or a name bound once to one of those, or a parameter whose
  default is an int literal.

Different seeds per library (the Keras FAQ's 42 / 12345 / 1234), a TF seed alone, a
seed that may be ``None`` (``args.seed``, ``seed=None`` parameters) and seeds in
version-gated or per-graph code stay separate calls (TRM001 renames the TF one).
The consolidated call takes the place of the last of the three, so every import
the originals relied on has run by then.

Docs: https://keras.io/api/utils/python_utils/#setrandomseed-function ,
https://keras.io/examples/keras_recipes/reproducibility_recipes/
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import (
    SeedCall,
    env_writes,
    never_none,
    per_graph_context,
    seed_calls,
    version_gated,
)
from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import Edit, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule

_BOILERPLATE_WORDS = ("ConfigProto", "Session", "GPUOptions", "gpu_options", "parallelism_threads", "set_session")


def is_boilerplate(ctx: Context, unit: cst.CSTNode, seed_units: set[cst.CSTNode], env_units: set[cst.CSTNode]) -> bool:
    """Statements that may sit between the seed calls without breaking the group."""
    if isinstance(unit, (cst.Import, cst.ImportFrom, cst.Pass)) or unit in seed_units or unit in env_units:
        return True
    if isinstance(unit, (cst.Assign, cst.Expr)):
        text = ctx.code(unit)
        return any(word in text for word in _BOILERPLATE_WORDS)
    return False


class SeedConsolidation(Rule):
    code = "TRM002"
    name = "seed-consolidation"
    summary = "random.seed + np.random.seed + TF seed with one value -> keras.utils.set_random_seed"
    safety = Safety.SAFE
    order = 10
    triggers = ("seed",)

    def run(self, ctx: Context) -> None:
        seeds = [
            s
            for s in seed_calls(ctx)
            if s.library in ("python", "numpy", "tf", "tf2")
            and s.statement
            and s.expr is not None
            and not version_gated(ctx, s.call)
        ]
        if not seeds:
            return
        seed_units = {s.unit for s in seeds}
        env_units = {w.unit for w in env_writes(ctx)}
        by_unit = {s.unit: s for s in seeds}
        for tf_seed in (s for s in seeds if s.library in ("tf", "tf2")):
            if tf_seed.call in ctx.claimed or per_graph_context(ctx, tf_seed.unit) is not None:
                continue
            group = self._group(ctx, tf_seed, by_unit, seed_units, env_units)
            if group is not None:
                self._consolidate(ctx, group)

    def _group(
        self,
        ctx: Context,
        tf_seed: SeedCall,
        by_unit: dict[cst.CSTNode, SeedCall],
        seed_units: set[cst.CSTNode],
        env_units: set[cst.CSTNode],
    ) -> list[SeedCall] | None:
        units = ctx.block_units(ctx.block_of(tf_seed.unit))
        index = units.index(tf_seed.unit)
        lo = hi = index
        while lo > 0 and is_boilerplate(ctx, units[lo - 1], seed_units, env_units):
            lo -= 1
        while hi < len(units) - 1 and is_boilerplate(ctx, units[hi + 1], seed_units, env_units):
            hi += 1
        assert tf_seed.expr is not None
        text = ctx.code(tf_seed.expr)
        picked: dict[str, SeedCall] = {"tf": tf_seed}
        for unit in units[lo : hi + 1]:
            other = by_unit.get(unit)
            if other is None or other.call in ctx.claimed or other.expr is None:
                continue
            if other.library in ("python", "numpy") and other.library not in picked:
                if ctx.code(other.expr) == text:
                    picked[other.library] = other
        if len(picked) != 3 or not never_none(ctx, tf_seed.expr):
            return None
        return sorted(picked.values(), key=lambda s: units.index(s.unit))

    def _consolidate(self, ctx: Context, group: list[SeedCall]) -> None:
        last = group[-1]
        edits: list[Edit] = []
        utils = ctx.keras_utils(last.call, edits)
        assert last.expr is not None
        new = statement(f"{utils}.set_random_seed({ctx.code(last.expr)})\n", ctx.module)
        for seed in group[:-1]:
            edits.append(ReplaceStatement(seed.unit, []))
        edits.append(ReplaceStatement(last.unit, [new]))
        first = group[0]
        ctx.cache.setdefault("seed_landing", {}).update({s.unit: last.unit for s in group})  # type: ignore[union-attr,attr-defined]
        ctx.report(
            first.call,
            self.code,
            f"random, NumPy and TensorFlow seeded with one value -> {utils}.set_random_seed({ctx.code(last.expr)})",
            Safety.SAFE,
            edits,
            claim=[s.call for s in group],
        )
