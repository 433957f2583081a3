"""TRM001 tf-seed: ``tf.set_random_seed`` (and its compat.v1 / bare spellings) -> ``tf.random.set_seed``.

``tf.set_random_seed`` and ``tf.random.set_random_seed`` are gone in TF2; the
TF2 name is ``tf.random.set_seed``. The seed expression and its keyword form are
copied verbatim. Where TF1's per-graph meaning matters (inside ``with
graph.as_default()``, after ``tf.reset_default_graph()``, or in a file that builds TF1
graphs and runs them in sessions) the call becomes ``tf.compat.v1.set_random_seed``,
which keeps that meaning, and TRM008 explains why. A legacy call sitting next to a
``tf.random.set_seed`` with the same seed is a duplicate and is removed. Calls in
version-gated fallbacks (``except AttributeError:``, ``if tf.__version__ ...``) are left
as they are.

Docs: https://www.tensorflow.org/api_docs/python/tf/random/set_seed
"""

from __future__ import annotations

from tf_repro_migrate.analysis import (
    SeedCall,
    graph_mode_file,
    per_graph_context,
    seed_calls,
    version_gated,
)
from tf_repro_migrate.context import Context, expression
from tf_repro_migrate.findings import Edit, ReplaceNode, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule


class SetRandomSeed(Rule):
    code = "TRM001"
    name = "tf-seed"
    summary = "tf.set_random_seed / tf.compat.v1.set_random_seed -> tf.random.set_seed"
    safety = Safety.SAFE
    order = 20
    triggers = ("set_random_seed",)

    def run(self, ctx: Context) -> None:
        seeds = seed_calls(ctx)
        tf2 = [s for s in seeds if s.library == "tf2"]
        for seed in seeds:
            if seed.library != "tf" or seed.call in ctx.claimed or version_gated(ctx, seed.call):
                continue
            duplicate = self._duplicate_of(ctx, seed, tf2)
            if duplicate is not None:
                ctx.report(
                    seed.call,
                    self.code,
                    f"duplicate of tf.random.set_seed on line {ctx.positions[duplicate.call].start.line}: removed",
                    Safety.SAFE,
                    [ReplaceStatement(seed.unit, [])],
                    claim=[seed.call],
                )
                continue
            edits: list[Edit] = []
            tf = ctx.tf_name(seed.call, edits)
            graph_reason = per_graph_context(ctx, seed.unit)
            if graph_reason is not None or graph_mode_file(ctx):
                if "tensorflow.compat.v1.set_random_seed" in ctx.qualified_names(seed.call.func):
                    continue
                target = f"{tf}.compat.v1.set_random_seed"
                why = "per-graph seed kept (TRM008)" if graph_reason else "graph-mode file keeps TF1 seed semantics"
            else:
                target = f"{tf}.random.set_seed"
                why = "the TF2 global seed"
            edits.append(ReplaceNode(seed.call.func, expression(target, ctx.module)))
            ctx.report(seed.call, self.code, f"{ctx.code(seed.call.func)} -> {target} ({why})", Safety.SAFE, edits,
                       claim=[seed.call])

    @staticmethod
    def _duplicate_of(ctx: Context, seed: SeedCall, tf2: list[SeedCall]) -> SeedCall | None:
        if seed.expr is None or not seed.statement:
            return None
        block = ctx.block_of(seed.unit)
        units = ctx.block_units(block)
        index = units.index(seed.unit)
        for other in tf2:
            if other.expr is None or not other.statement or ctx.block_of(other.unit) is not block:
                continue
            if abs(units.index(other.unit) - index) == 1 and ctx.code(other.expr) == ctx.code(seed.expr):
                return other
        return None
