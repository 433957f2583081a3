"""TRM003 session-config: ``tf.ConfigProto`` / ``tf.GPUOptions`` fields -> ``tf.config`` calls.

A TF1 session took its options from a ``ConfigProto``; TF2 sets the same options
process-wide through ``tf.config``, and they must be set before TensorFlow
initialises its runtime. So each field becomes a call *where the field was set*:
the constructor's statement, or the mutation statement (``cfg.gpu_options.allow_growth
= True``, kept inside its ``if`` when it was conditional).

==================================  ==========================================================
ConfigProto field                   TF2 call
==================================  ==========================================================
intra_op_parallelism_threads        tf.config.threading.set_intra_op_parallelism_threads
inter_op_parallelism_threads        tf.config.threading.set_inter_op_parallelism_threads
allow_soft_placement                tf.config.set_soft_device_placement
log_device_placement                tf.debugging.set_log_device_placement
gpu_options.allow_growth            tf.config.experimental.set_memory_growth on every GPU
device_count={'GPU': 0}             tf.config.set_visible_devices([], 'GPU')
device_count={'CPU': 1}             nothing (one CPU device is TF's default)
==================================  ==========================================================

Fields with no faithful TF2 form (``per_process_gpu_memory_fraction``,
``visible_device_list``, ``device_count={'CPU': n}``, ``graph_options`` rewrite options,
anything else) are reported as manual findings with the reason, and the rewrite of that
set-up becomes *unsafe*: it would drop them, so it is held back unless
``--unsafe-fixes``. A config TRM004 must keep (graph-mode code) keeps its fields; its
TF1-only name is renamed to ``tf.compat.v1.ConfigProto`` so it still runs on TF2.

Docs: https://www.tensorflow.org/api_docs/python/tf/config/threading ,
https://www.tensorflow.org/api_docs/python/tf/config/experimental/set_memory_growth ,
https://www.tensorflow.org/guide/migrate/tf1_vs_tf2
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import compat_v1_fallback, version_gated
from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import Edit, InsertAfter, ReplaceNode, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.sessions import CONFIG_PROTO, GPU_OPTIONS, FieldSet, Setup, analyse

_DIRECT = {
    "intra_op_parallelism_threads": "{tf}.config.threading.set_intra_op_parallelism_threads({v})",
    "inter_op_parallelism_threads": "{tf}.config.threading.set_inter_op_parallelism_threads({v})",
    "allow_soft_placement": "{tf}.config.set_soft_device_placement({v})",
    "log_device_placement": "{tf}.debugging.set_log_device_placement({v})",
}

_NO_TF2_FORM = {
    "gpu_options.per_process_gpu_memory_fraction": (
        "TF2 has no fraction-based GPU memory limit; "
        "tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=MB)]) "
        "needs absolute megabytes and cannot be combined with memory growth"
    ),
    "gpu_options.visible_device_list": "choose GPUs with tf.config.set_visible_devices(<list of GPUs>, 'GPU')",
    "device_count": "only device_count={'GPU': 0} and {'CPU': 1} have a faithful TF2 form",
    "device_count[]": "device_count set per device type has no TF2 form; use tf.config.set_visible_devices",
}


def translate(f: FieldSet, ctx: Context, tf: str, loop_var: str) -> tuple[list[str] | None, str]:
    """(the TF2 statements for one field, or None) and the reason when there is none."""
    lines, reason = _translate(f, ctx, tf, loop_var)
    if lines and ctx.in_suite(f.unit) and any("\n" in line for line in lines):
        return None, "the option is set inside a one-line suite (`if x: ...`); move it to its own block"
    return lines, reason


def _translate(f: FieldSet, ctx: Context, tf: str, loop_var: str) -> tuple[list[str] | None, str]:
    value = ctx.code(f.value)
    if f.path in _DIRECT:
        return [_DIRECT[f.path].format(tf=tf, v=value)], ""
    if f.path == "gpu_options.allow_growth":
        return [
            f"for {loop_var} in {tf}.config.list_physical_devices('GPU'):\n"
            f"    {tf}.config.experimental.set_memory_growth({loop_var}, {value})\n"
        ], ""
    if f.path == "device_count" and isinstance(f.value, cst.Dict):
        out: list[str] = []
        for element in f.value.elements:
            if not isinstance(element, cst.DictElement) or not isinstance(element.key, cst.SimpleString):
                return None, _NO_TF2_FORM["device_count"]
            kind, count = element.key.evaluated_value, element.value
            if kind == "GPU" and isinstance(count, cst.Integer) and count.value == "0":
                out.append(f"{tf}.config.set_visible_devices([], 'GPU')")
            elif kind == "CPU" and isinstance(count, cst.Integer) and count.value == "1":
                continue
            else:
                return None, _NO_TF2_FORM["device_count"]
        return out, ""
    reason = _NO_TF2_FORM.get(f.path)
    if reason is None and f.path.startswith("graph_options"):
        reason = "graph rewrite options map to tf.config.optimizer.set_experimental_options by hand"
    return None, reason or "no TF2 equivalent is known for this field"


def _loop_var(ctx: Context, node: cst.CSTNode) -> str:
    scope = ctx.scopes.get(node)
    for name in ("gpu", "_gpu", "gpu_device", "_tf_gpu"):
        if scope is None or name not in scope:
            return name
    return "_tf_repro_migrate_gpu"


class SessionConfig(Rule):
    code = "TRM003"
    name = "session-config"
    summary = "tf.ConfigProto / GPUOptions fields -> tf.config threading, memory-growth and placement calls"
    safety = Safety.SAFE
    order = 30
    triggers = ("ConfigProto", "GPUOptions")

    def run(self, ctx: Context) -> None:
        for setup in analyse(ctx).setups:
            if setup.config is None or setup.config in ctx.claimed or version_gated(ctx, setup.config):
                continue
            if setup.removable:
                self._convert(ctx, setup)
            else:
                self._keep(ctx, setup)

    def _convert(self, ctx: Context, setup: Setup) -> None:
        assert setup.config is not None
        edits: list[Edit] = []
        tf = ctx.tf_name(setup.config, edits)
        loop_var = _loop_var(ctx, setup.config)
        owned = [setup.config_unit, *(u for _, u in setup.gpu_options), *setup.mutation_units]
        by_unit: dict[cst.CSTNode, list[str]] = {u: [] for u in owned if u is not None}
        inline: list[str] = []
        dropped: list[FieldSet] = []
        done: list[str] = []
        for f in setup.fields:
            lines, reason = translate(f, ctx, tf, loop_var)
            target = f.unit if f.unit in by_unit else None
            if lines is None:
                dropped.append(f)
                field_name = f.path.rstrip("[]")
                ctx.report(f.node, self.code, f"`{field_name}` has no faithful TF2 form: {reason}", Safety.MANUAL)
                continue
            done.append(f.path)
            (by_unit[target] if target is not None else inline).extend(lines)
        inline_anchor = setup.anchor or ctx.unit_of(setup.config)
        groups = [(u, lines, False) for u, lines in by_unit.items()] + ([(inline_anchor, inline, True)] if inline else [])
        groups.sort(key=lambda g: ctx.sort_key(g[0]))
        prelude_done = False
        for unit, lines, is_inline in groups:
            if lines and not prelude_done:
                lines, prelude_done = ctx.tf_prelude(unit, tf) + lines, True
            new = [statement(line, ctx.module) for line in lines]
            edits.append(InsertAfter(unit, new) if is_inline else ReplaceStatement(unit, new))
        safety = Safety.UNSAFE if dropped else Safety.SAFE
        names = ", ".join(sorted(set(done))) or "no fields"
        message = f"ConfigProto ({names}) -> tf.config calls placed where the config was built"
        if dropped:
            message += f"; leaves out {', '.join(f.path.rstrip('[]') for f in dropped)} (see the manual findings)"
        ctx.report(setup.config, self.code, message, safety, edits, claim=[setup.config])

    def _keep(self, ctx: Context, setup: Setup) -> None:
        """Graph-mode or opaque config: keep it, under the compat.v1 name that exists in TF2."""
        assert setup.config is not None
        edits: list[Edit] = []
        for call in [setup.config, *(c for c, _ in setup.gpu_options)]:
            names = ctx.qualified_names(call.func)
            legacy = names & {"tensorflow.ConfigProto", "tensorflow.GPUOptions"}
            if legacy and not compat_v1_fallback(names):
                tf = ctx.tf_name(call, edits)
                attr = min(legacy).rsplit(".", 1)[1]  # a set: min() keeps the output stable
                edits.append(ReplaceNode(call.func, cst.parse_expression(f"{tf}.compat.v1.{attr}")))
        if edits:
            ctx.report(
                setup.config,
                self.code,
                f"config kept for a session TF2 cannot drop ({setup.problems[0]}): renamed to tf.compat.v1",
                Safety.SAFE,
                edits,
                claim=[setup.config],
            )


__all__ = ["SessionConfig", "translate", "CONFIG_PROTO", "GPU_OPTIONS"]
