"""TRM009 compat-v1-file: files written against ``tensorflow.compat.v1`` are graph-mode by choice.

After ``import tensorflow.compat.v1 as tf`` (or a call to ``disable_v2_behavior()`` /
``disable_eager_execution()``), ``tf.set_random_seed``, ``tf.ConfigProto`` and
``tf.Session`` are valid TF2 code, while TF2 names such as ``tf.random.set_seed`` do
not exist under that alias. Such files are reported and not rewritten (the
report-only rules TRM006-TRM008 still run).

Docs: https://www.tensorflow.org/guide/migrate/migrate_tf2 ,
https://www.tensorflow.org/api_docs/python/tf/compat/v1/disable_v2_behavior
"""

from __future__ import annotations

from tf_repro_migrate.analysis import compat_v1_file
from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import Safety
from tf_repro_migrate.rules import Rule


class CompatV1File(Rule):
    code = "TRM009"
    name = "compat-v1-file"
    summary = "report files written against tensorflow.compat.v1 / with v2 behaviour disabled; not rewritten"
    safety = Safety.MANUAL
    order = 0
    triggers = ("compat.v1", "compat import v1", "disable_v2_behavior", "disable_eager_execution")
    in_compat_v1_files = True

    def run(self, ctx: Context) -> None:
        node = compat_v1_file(ctx)
        if node is not None:
            ctx.report(
                node,
                self.code,
                "file runs TF1 graph code through tensorflow.compat.v1 by choice: its TF1 names are valid on TF2 "
                "and are left as they are; port it to TF2 by hand if you want TF2 idioms",
                Safety.MANUAL,
            )
