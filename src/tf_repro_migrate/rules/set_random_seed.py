"""TRM001 tf-seed: ``tf.set_random_seed`` (and its compat.v1 / bare spellings) -> ``tf.random.set_seed``.

``tf.set_random_seed`` and ``tf.random.set_random_seed`` are gone in TF2; the
TF2 name is ``tf.random.set_seed``. The seed expression and its keyword form are
copied verbatim.

In TF1 with Keras 2 the graph seed also fixed Keras' initializers and dropout. Keras 3
draws those seeds from Python's ``random`` instead, so where the seed's scope (its
function, or the module / notebook) does not seed Python's ``random``, the migrated call
is followed by ``random.seed(<same expression>)`` (``import random`` added when needed;
also right for a seed that may be ``None``, which unseeds both). A seed expression that
could give another value when evaluated twice (it calls something) gets a manual finding
instead.

Where TF1's per-graph meaning matters (inside ``with graph.as_default()``, after
``tf.reset_default_graph()``, or in a file that builds TF1 graphs and runs them in
sessions) the call becomes ``tf.compat.v1.set_random_seed``, which keeps that meaning,
TRM008 explains why, and nothing else changes: that code stays on TF1 graph semantics.
A legacy call sitting next to a ``tf.random.set_seed`` with the same seed is a duplicate
and is removed. Calls in version-gated fallbacks (``except AttributeError:``, ``if
tf.__version__ ...``) are left as they are.

The new code never uses ``tf`` or ``random`` before the file binds it: when the import
that binds it comes later (``from tensorflow import set_random_seed`` above ``import
tensorflow as tf``, or a function-local import below the call), an import goes just
before the new code.

Docs: https://www.tensorflow.org/api_docs/python/tf/random/set_seed ,
https://keras.io/examples/keras_recipes/reproducibility_recipes/
"""

from __future__ import annotations

from tf_repro_migrate.analysis import (
    SeedCall,
    graph_mode_file,
    per_graph_context,
    seed_calls,
    version_gated,
)
from tf_repro_migrate.context import Context, expression, statement
from tf_repro_migrate.findings import Edit, InsertAfter, ReplaceNode, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.seeding import python_seeded, repeatable, uses_tf2_seeding


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
            if seed.library != "tf" or version_gated(ctx, seed.call):
                continue
            duplicate = self._duplicate_of(ctx, seed, tf2)
            if duplicate is not None:
                ctx.report(
                    seed.call,
                    self.code,
                    f"duplicate of tf.random.set_seed on line {ctx.positions[duplicate.call].start.line}: removed",
                    Safety.SAFE,
                    [ReplaceStatement(seed.unit, [])],
                )
                continue
            edits: list[Edit] = []
            graph_reason = per_graph_context(ctx, seed.unit)
            graph = graph_reason is not None or graph_mode_file(ctx)
            if graph and "tensorflow.compat.v1.set_random_seed" in ctx.qualified_names(seed.call.func):
                continue
            tf = ctx.tf_spelling(seed.call, edits)
            if graph:
                target = f"{tf}.compat.v1.set_random_seed"
                why = "per-graph seed kept (TRM008)" if graph_reason else "graph-mode file keeps TF1 seed semantics"
                why += "; nothing else changes: this code stays on TF1 graph semantics"
            else:
                target = f"{tf}.random.set_seed"
                why = "the TF2 global seed"
            edits.append(ReplaceNode(seed.call.func, expression(target, ctx.module)))
            message = f"{ctx.code(seed.call.func)} -> {target} ({why})"
            if not graph and not python_seeded(ctx, seed) and not uses_tf2_seeding(ctx):
                message = self._seed_python_too(ctx, seed, edits, message)
            ctx.report(seed.call, self.code, message, Safety.SAFE, edits)

    def _seed_python_too(self, ctx: Context, seed: SeedCall, edits: list[Edit], message: str) -> str:
        """Add ``random.seed(<expr>)`` after the migrated call (Keras 3 seeds from Python's
        random); when that cannot be done safely, report what to do instead."""
        expr = ctx.code(seed.expr) if seed.expr is not None else None
        why = "Keras 3 draws its initializer, dropout and SeedGenerator seeds from Python's random"
        if seed.expr is None or not seed.statement or not repeatable(ctx, seed.expr):
            where = "this call's value is used" if seed.expr is not None and not seed.statement else (
                "the seed expression may give another value when evaluated again")
            ctx.report(
                seed.call, self.code,
                f"Python's random is not seeded here and {why}: seed it with the same value as TensorFlow "
                f"(`random.seed(...)` or `keras.utils.set_random_seed(...)`); not added automatically: {where}",
                Safety.MANUAL,
            )
            return message
        rnd = ctx.python_random(seed.call, edits)
        edits.append(InsertAfter(seed.unit, [statement(f"{rnd}.seed({expr})\n", ctx.module)]))
        return f"{message}, and {rnd}.seed({expr}) after it: {why}, and this scope does not seed it"

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
