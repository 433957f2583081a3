"""TRM007 cuda-visible-devices: report hiding every GPU (``CUDA_VISIBLE_DEVICES=''`` / ``'-1'``) for reproducibility.

Old recipes forced CPU-only runs because GPU kernels were not deterministic. With
``tf.config.experimental.enable_op_determinism()`` GPU runs can be reproducible, so
the line's removal is offered as an *unsafe* fix (it changes which device trains).
Device *selection* (``'0'``, ``args.gpu``) is never touched, nor files that do not
import TensorFlow or Keras (launchers set the variable for child processes).

Docs: https://www.tensorflow.org/api_docs/python/tf/config/experimental/enable_op_determinism
"""

from __future__ import annotations

from tf_repro_migrate.analysis import _string_value, env_writes, imports_tensorflow
from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule


class CudaVisibleDevices(Rule):
    code = "TRM007"
    name = "cuda-visible-devices"
    summary = "report CUDA_VISIBLE_DEVICES='' / '-1' (CPU-only for reproducibility); removal is an unsafe fix"
    safety = Safety.UNSAFE
    order = 71
    triggers = ("CUDA_VISIBLE_DEVICES",)
    in_compat_v1_files = True

    def run(self, ctx: Context) -> None:
        if not imports_tensorflow(ctx):
            return
        for write in env_writes(ctx):
            if write.key != "CUDA_VISIBLE_DEVICES" or _string_value(write.value) not in ("", "-1"):
                continue
            message = ("every GPU is hidden to get reproducible runs; with enable_op_determinism() "
                       "GPU runs can be reproducible too")
            if write.simple:
                ctx.report(write.node, self.code, message + ": removing the line is offered as an unsafe fix",
                           Safety.UNSAFE, [ReplaceStatement(write.unit, [])])
            else:
                ctx.report(write.node, self.code, message, Safety.MANUAL)
