"""TRM007 cuda-visible-devices: report hiding every GPU (``CUDA_VISIBLE_DEVICES=''`` / ``'-1'``).

Old reproducibility recipes forced CPU-only runs because GPU kernels were not
deterministic; with ``tf.config.experimental.enable_op_determinism()`` GPU runs can be
reproducible too. But GPUs are also hidden for other reasons (CPU workers, tests,
a parameter server), which the code does not tell us, so the finding states the
effect and leaves the judgement to the reader: the line's removal is an *unsafe*
fix (it changes which device trains). Device *selection* (``'0'``, ``args.gpu``) is
never touched, nor files that do not import TensorFlow or Keras (launchers set the
variable for child processes).

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
    summary = "report CUDA_VISIBLE_DEVICES='' / '-1' (every GPU hidden, CPU only); removal is an unsafe fix"
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
            # The effect, not a guess at the reason: GPUs are hidden for CPU workers and tests too.
            message = (f"CUDA_VISIBLE_DEVICES={_string_value(write.value)!r}: every GPU is hidden from TensorFlow: "
                       "it runs on the CPU. GPU runs can be reproducible with enable_op_determinism(); "
                       "if the GPUs were hidden only for reproducibility, ")
            if write.simple:
                ctx.report(write.node, self.code, message + "removing the line is offered as an unsafe fix",
                           Safety.UNSAFE, [ReplaceStatement(write.unit, [])])
            else:
                ctx.report(write.node, self.code, message + "remove 'CUDA_VISIBLE_DEVICES' from this call",
                           Safety.MANUAL)
