"""TRM010 eager-execution: ``tf.enable_eager_execution()`` is removed; TF2 runs eagerly by default.

``tf.enable_eager_execution`` does not exist in TF2 (``AttributeError``), and its compat.v1
spelling does nothing there unless graph mode was switched on first. A call without
arguments is removed (comments above it move to the next statement; an emptied block
gets ``pass``). A call with arguments (``config=``, ``device_policy=``) carries settings
that need ``tf.config`` calls: reported, not removed. Version-gated calls and calls whose
value is used are left alone. Files written against ``tensorflow.compat.v1`` are TRM009's.

Docs: https://www.tensorflow.org/api_docs/python/tf/compat/v1/enable_eager_execution ,
https://www.tensorflow.org/guide/eager
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import version_gated
from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule

ENABLE_EAGER = (
    "tensorflow.enable_eager_execution",
    "tensorflow.compat.v1.enable_eager_execution",
    "tensorflow.contrib.eager.enable_eager_execution",
)


class EagerExecution(Rule):
    code = "TRM010"
    name = "eager-execution"
    summary = "remove tf.enable_eager_execution(): eager execution is TF2's default"
    safety = Safety.SAFE
    order = 40
    triggers = ("enable_eager_execution",)

    def run(self, ctx: Context) -> None:
        for call in ctx.calls_to(ENABLE_EAGER):
            if call in ctx.claimed or version_gated(ctx, call):
                continue
            unit = ctx.unit_of(call)
            if not (isinstance(unit, cst.Expr) and unit.value is call):
                continue  # its value is used: not ours to drop
            spelled = ctx.code(call.func)
            if call.args:
                ctx.report(
                    call,
                    self.code,
                    f"{spelled}(...) does not exist in TF2, where eager execution is the default; its arguments "
                    "are settings: move them to tf.config calls (tf.config.threading, "
                    "tf.config.set_soft_device_placement, ...) and remove the call",
                    Safety.MANUAL,
                )
                continue
            ctx.report(
                call,
                self.code,
                f"{spelled}() removed: eager execution is the default in TF2",
                Safety.SAFE,
                [ReplaceStatement(unit, [])],
                claim=[call],
            )
