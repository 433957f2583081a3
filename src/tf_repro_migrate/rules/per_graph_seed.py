"""TRM008 per-graph-seed: report seeding whose TF1 meaning a global seed does not keep.

In TF1 a seed belongs to a graph: ``with g.as_default(): tf.set_random_seed(21)``
seeds ``g`` only, ``tf.reset_default_graph()`` drops the seed, and several graphs can
carry different seeds. TF2's ``tf.random.set_seed`` is one process-wide seed, so a
rewrite would change which random streams are seeded. This rule only reports; TRM001
renames the call to ``tf.compat.v1.set_random_seed``, which keeps the per-graph
meaning and runs on TF2. Porting the graph code itself is manual work.

Docs: https://www.tensorflow.org/api_docs/python/tf/compat/v1/set_random_seed
"""

from __future__ import annotations

from tf_repro_migrate.analysis import per_graph_context, seed_calls, version_gated
from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import Safety
from tf_repro_migrate.rules import Rule


class PerGraphSeed(Rule):
    code = "TRM008"
    name = "per-graph-seed"
    summary = "report TF1 per-graph seeding (graph.as_default, reset_default_graph) a global seed does not keep"
    safety = Safety.MANUAL
    order = 5
    triggers = ("set_random_seed",)
    in_compat_v1_files = True

    def run(self, ctx: Context) -> None:
        for seed in seed_calls(ctx):
            if seed.library != "tf" or version_gated(ctx, seed.call):
                continue
            reason = per_graph_context(ctx, seed.unit)
            if reason is not None:
                ctx.report(
                    seed.call,
                    self.code,
                    f"per-graph seed: {reason}; a global tf.random.set_seed would seed every graph, "
                    "so port this graph code by hand (seed before each graph is built)",
                    Safety.MANUAL,
                )
