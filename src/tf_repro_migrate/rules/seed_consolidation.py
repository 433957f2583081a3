"""TRM002 seed-consolidation: NumPy + TF seeds with one value (and Python's, if seeded) -> ``keras.utils.set_random_seed(s)``.

``keras.utils.set_random_seed(s)`` seeds Python's ``random``, NumPy and the backend
with one value. Keras 3 takes the seeds of unseeded initializers, ``Dropout`` and its
``SeedGenerator`` from Python's ``random``, so this is also the faithful TF2 form of a
TF1 ``np.random.seed(s); tf.set_random_seed(s)`` pair. The calls merge only when
(seeding.py decides, for every rule):

* the TF seed is a TF1 call (a file already written against the TF2 names is left as
  it is) in a block with a NumPy seed of the same value (compared as source text,
  copied verbatim), and a Python seed of that value, or none at all in that scope;
* nothing runs between them and the merged call's place, the last of them: only
  comments, ``pass``, environment writes and standard-library / NumPy imports. An
  ``import tensorflow`` between would move a seed across code that draws from
  Python's ``random``;
* the seed cannot be ``None`` (``keras.utils.set_random_seed(None)`` raises).

Otherwise the calls stay separate and TRM001 renames the TF one (adding ``random.seed``
where Python's ``random`` is not seeded).

Docs: https://keras.io/api/utils/python_utils/#setrandomseed-function ,
https://keras.io/examples/keras_recipes/reproducibility_recipes/
"""

from __future__ import annotations

from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import Edit, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.seeding import Consolidation, seed_plan


class SeedConsolidation(Rule):
    code = "TRM002"
    name = "seed-consolidation"
    summary = "NumPy + TF seeds with one value (and Python's) -> keras.utils.set_random_seed"
    safety = Safety.SAFE
    order = 10
    triggers = ("seed",)

    def run(self, ctx: Context) -> None:
        for group in seed_plan(ctx).consolidations:
            self._consolidate(ctx, group)

    def _consolidate(self, ctx: Context, group: Consolidation) -> None:
        last = group.last
        edits: list[Edit] = []
        utils = ctx.keras_utils(last.call, edits)
        assert last.expr is not None
        new = statement(f"{utils}.set_random_seed({ctx.code(last.expr)})\n", ctx.module)
        for seed in group.seeds[:-1]:
            edits.append(ReplaceStatement(seed.unit, []))
        edits.append(ReplaceStatement(last.unit, [new]))
        libraries = "random, NumPy and TensorFlow" if len(group.seeds) == 3 else "NumPy and TensorFlow"
        note = "" if len(group.seeds) == 3 else " (also seeds Python's random, which Keras 3 draws its default seeds from)"
        ctx.report(
            group.seeds[0].call,
            self.code,
            f"{libraries} seeded with one value -> {utils}.set_random_seed({ctx.code(last.expr)}){note}",
            Safety.SAFE,
            edits,
        )
