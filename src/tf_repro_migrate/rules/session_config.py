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
gpu_options.visible_device_list     ``gpus = tf.config.list_physical_devices('GPU')``, then
                                    ``if gpus: tf.config.set_visible_devices([gpus[int(i)]
                                    for i in str(V).split(',')], 'GPU')``
==================================  ==========================================================

``visible_device_list`` is a comma-separated string of physical GPU indices, often an
expression (``str(hvd.local_rank())`` in every Horovod script): it is kept verbatim, and
the ``if gpus:`` guard keeps TF1's behaviour of ignoring it on a machine without GPUs.
When memory growth is set in the same block, both use one ``gpus`` list.

Fields with no faithful TF2 form (``per_process_gpu_memory_fraction``,
``device_count={'CPU': n}``, ``graph_options`` rewrite options,
anything else) are reported as manual findings with the reason, and the rewrite of that
set-up becomes *unsafe*: it would drop them, so it is held back unless
``--unsafe-fixes``. A config TRM004 must keep (graph-mode code) keeps its fields; its
TF1-only name is renamed to ``tf.compat.v1.ConfigProto`` so it still runs on TF2.

Docs: https://www.tensorflow.org/api_docs/python/tf/config/threading ,
https://www.tensorflow.org/api_docs/python/tf/config/experimental/set_memory_growth ,
https://www.tensorflow.org/api_docs/python/tf/config/set_visible_devices ,
https://horovod.readthedocs.io/en/stable/keras.html ,
https://www.tensorflow.org/guide/migrate/tf1_vs_tf2
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from tf_repro_migrate.analysis import compat_v1_fallback, version_gated
from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import (
    Edit,
    InsertAfter,
    ReplaceNode,
    ReplaceStatement,
    Safety,
)
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.rules.eager_execution import ENABLE_EAGER
from tf_repro_migrate.sessions import (
    CONFIG_PROTO,
    GPU_OPTIONS,
    NO_SESSION,
    FieldSet,
    Setup,
    analyse,
)

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
    "device_count": "only device_count={'GPU': 0} and {'CPU': 1} have a faithful TF2 form",
    "device_count[]": "device_count set per device type has no TF2 form; use tf.config.set_visible_devices",
}


@dataclass(frozen=True)
class GpuList:
    """``gpus = tf.config.list_physical_devices('GPU')`` shared by the GPU fields of one
    set-up: ``name`` is the variable, ``bind`` whether this field's code assigns it (the
    first GPU field in execution order) or reuses it."""

    name: str
    bind: bool


def translate(
    f: FieldSet, ctx: Context, tf: str, loop_var: str, gpus: GpuList | None = None
) -> tuple[list[str] | None, str]:
    """(the TF2 statements for one field, or None) and the reason when there is none."""
    lines, reason = _translate(f, ctx, tf, loop_var, gpus)
    if lines and ctx.in_suite(f.unit) and any("\n" in line for line in lines):
        return None, "the option is set inside a one-line suite (`if x: ...`); move it to its own block"
    return lines, reason


def _device_list(ctx: Context, value: cst.BaseExpression) -> str:
    """``value`` as a string expression, verbatim: wrapped in ``str()`` unless it is one."""
    code = ctx.code(value)
    if isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return code
    if isinstance(value, cst.Call):
        func = value.func
        if isinstance(func, cst.Name) and func.value == "str":
            return code
        if (isinstance(func, cst.Attribute) and func.attr.value == "join"
                and isinstance(func.value, (cst.SimpleString, cst.ConcatenatedString))):
            return code
    return f"str({code})"


def _empty_string(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.SimpleString) and str(value.evaluated_value).strip() == ""


def _translate(
    f: FieldSet, ctx: Context, tf: str, loop_var: str, gpus: GpuList | None
) -> tuple[list[str] | None, str]:
    value = ctx.code(f.value)
    listing = f"{tf}.config.list_physical_devices('GPU')"
    if f.path in _DIRECT:
        return [_DIRECT[f.path].format(tf=tf, v=value)], ""
    if f.path == "gpu_options.allow_growth":
        growth = f"    {tf}.config.experimental.set_memory_growth({loop_var}, {value})\n"
        if gpus is None:
            return [f"for {loop_var} in {listing}:\n" + growth], ""
        bind = [f"{gpus.name} = {listing}"] if gpus.bind else []
        return [*bind, f"for {loop_var} in {gpus.name}:\n" + growth], ""
    if f.path == "gpu_options.visible_device_list":
        # A comma-separated string of physical GPU indices; TF1 ignored it without GPUs.
        if _empty_string(f.value):
            return [], ""  # "" is TF1's default: every GPU stays visible
        name = gpus.name if gpus is not None else "gpus"
        bind = [f"{name} = {listing}"] if gpus is None or gpus.bind else []
        chosen = f"[{name}[int(i)] for i in {_device_list(ctx, f.value)}.split(',')]"
        return [*bind, f"if {name}:\n    {tf}.config.set_visible_devices({chosen}, 'GPU')\n"], ""
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


def _free_name(ctx: Context, node: cst.CSTNode, candidates: tuple[str, ...]) -> str:
    """The first of ``candidates`` that no binding visible at ``node`` uses."""
    scope = ctx.scopes.get(node)
    for name in candidates:
        if scope is None or name not in scope:
            return name
    return f"_tf_repro_migrate_{candidates[0]}"


def _loop_var(ctx: Context, node: cst.CSTNode) -> str:
    return _free_name(ctx, node, ("gpu", "_gpu", "gpu_device", "_tf_gpu"))


_GPU_FIELDS = ("gpu_options.allow_growth", "gpu_options.visible_device_list")
_GPU_LISTS = ("gpus", "_gpus", "visible_gpus", "_tf_gpus")


def _eager_setting(ctx: Context, setup: Setup) -> bool:
    """The config is the ``config=`` of ``tf.enable_eager_execution`` (inline or by its name)."""
    unit = setup.config_unit
    name = unit.targets[0].target if isinstance(unit, cst.Assign) else None
    for call in ctx.calls_to(ENABLE_EAGER):
        for arg in call.args:
            if arg.value is setup.config or (
                isinstance(arg.value, cst.Name) and isinstance(name, cst.Name) and arg.value.value == name.value
            ):
                return True
    return False


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
        inline_anchor = setup.anchor or ctx.unit_of(setup.config)
        plans = self._gpu_lists(ctx, setup, by_unit, inline_anchor)
        for f in setup.fields:
            lines, reason = translate(f, ctx, tf, loop_var, plans.get(id(f)))
            target = f.unit if f.unit in by_unit else None
            if lines is None:
                dropped.append(f)
                field_name = f.path.rstrip("[]")
                ctx.report(f.node, self.code, f"`{field_name}` has no faithful TF2 form: {reason}", Safety.MANUAL)
                continue
            done.append(f.path)
            (by_unit[target] if target is not None else inline).extend(lines)
        groups = [(u, lines, False) for u, lines in by_unit.items()] + ([(inline_anchor, inline, True)] if inline else [])
        groups.sort(key=lambda g: ctx.sort_key(g[0]))
        prelude_done = False
        for unit, lines, is_inline in groups:
            if lines and not prelude_done:
                lines, prelude_done = ctx.tf_prelude(unit, tf) + lines, True
            new = [statement(line, ctx.module) for line in lines]
            edits.append(InsertAfter(unit, new) if is_inline else ReplaceStatement(unit, new))
        if setup.config_return is not None:
            edits.append(ReplaceStatement(setup.config_return, []))  # the config factory returns nothing now
        # The session may get another binding whose fields cannot all move: it stays (held
        # back), so this binding must stay with it.
        sibling_drops = any(translate(f, ctx, tf, loop_var)[0] is None for s in setup.siblings for f in s.fields)
        safety = Safety.UNSAFE if dropped or sibling_drops or setup.factory_unsafe else Safety.SAFE
        names = ", ".join(sorted(set(done))) or "no fields"
        message = f"ConfigProto ({names}) -> tf.config calls placed where the config was built"
        if dropped:
            message += f"; leaves out {', '.join(f.path.rstrip('[]') for f in dropped)} (see the manual findings)"
        if sibling_drops:
            message += "; held back with the session, whose other config has options with no TF2 form"
        if setup.factory_unsafe:
            message += f"; unsafe: {setup.factory_unsafe}"
        # With TRM004's removal of the session built from this config: one change (keeping the
        # session while its config goes is a NameError; the reverse keeps a crashing ConfigProto).
        ctx.report(setup.config, self.code, message, safety, edits, claim=[setup.config], bundle=setup.bundle,
                   bundle_size=setup.bundle_size)

    @staticmethod
    def _gpu_lists(
        ctx: Context, setup: Setup, by_unit: dict[cst.CSTNode, list[str]], inline_anchor: cst.CSTNode
    ) -> dict[int, GpuList]:
        """One ``gpus = tf.config.list_physical_devices('GPU')`` for the GPU fields of a set-up
        that pins devices, when they all land in one block (a field set in an ``if`` branch
        gets its own): the first in execution order binds it, the others reuse it."""
        fields = [f for f in setup.fields if f.path in _GPU_FIELDS and not _empty_string(f.value)]
        pins = [f for f in fields if f.path == "gpu_options.visible_device_list"]
        if not pins:
            return {}
        order = {id(f): i for i, f in enumerate(setup.fields)}
        where = {id(f): f.unit if f.unit in by_unit else inline_anchor for f in fields}
        if len({id(ctx.block_of(where[id(f)])) for f in fields}) != 1:
            return {id(f): GpuList(_free_name(ctx, f.unit, _GPU_LISTS), True) for f in pins}
        fields.sort(key=lambda f: (ctx.sort_key(where[id(f)]), order[id(f)]))
        name = _free_name(ctx, fields[0].unit, _GPU_LISTS)
        return {id(f): GpuList(name, i == 0) for i, f in enumerate(fields)}

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
        if NO_SESSION in setup.problems:
            self._report_unused(ctx, setup)
        if edits:
            ctx.report(
                setup.config,
                self.code,
                f"config kept for a session TF2 cannot drop ({setup.problems[0]}): renamed to tf.compat.v1",
                Safety.SAFE,
                edits,
                claim=[setup.config],
            )

    def _report_unused(self, ctx: Context, setup: Setup) -> None:
        """A config no session of this file takes (returned by a config factory, stored, passed
        on): kept and renamed it still runs, but on TF2 eager its settings have no effect, so say
        which ``tf.config`` calls would carry them."""
        assert setup.config is not None
        if _eager_setting(ctx, setup):
            return  # TRM010 reports enable_eager_execution(config=...) and what to do with it
        tf = ctx.module_alias(setup.config, "tensorflow") or "tf"
        calls: list[str] = []
        missing: list[str] = []
        for f in setup.fields:
            lines, _ = translate(f, ctx, tf, "gpu")
            if lines is None:
                missing.append(f.path.rstrip("[]"))
            calls.extend(" ".join(part.strip() for part in line.splitlines()) for line in lines or [])
        message = ("this ConfigProto is not given to a session in this file: on TF2 "
                   "eager its settings have no effect")
        if calls:
            message += "; to keep them, run where it is built: " + "; ".join(calls)
        if missing:
            message += f"; no TF2 form for {', '.join(missing)}"
        if not calls and not missing:
            message += "; it sets no fields: drop it with the code that uses it"
        ctx.report(setup.config, self.code, message, Safety.MANUAL)


__all__ = ["CONFIG_PROTO", "GPU_OPTIONS", "SessionConfig", "translate"]
