"""TRM005 op-determinism: emit ``tf.config.experimental.enable_op_determinism()`` where the legacy code asked for determinism.

The signals: ``TF_DETERMINISTIC_OPS`` / ``TF_CUDNN_DETERMINISTIC`` set to a true value
in ``os.environ`` (any spelling: subscript, ``setdefault``, ``update``, ``putenv``), a
single-threaded ``ConfigProto`` (intra = inter = 1, the Keras FAQ's way to get
repeatable results), and ``tfdeterminism.patch()`` (removed: it does not support
TF2). The call is emitted once, right after the file's TF seeding statement.

With op determinism on, TF random ops that have no seed raise, so the fix is *safe*
only when the file also seeds TensorFlow; without a seed it is *unsafe* (held back
unless ``--unsafe-fixes``) and goes after the signal. Env vars are kept: they are
harmless and older TF versions still read them. Requires TF >= 2.9.

Docs: https://www.tensorflow.org/api_docs/python/tf/config/experimental/enable_op_determinism
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import (
    OP_DETERMINISM,
    env_writes,
    per_graph_context,
    seed_calls,
    truthy_literal,
    version_gated,
)
from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import Edit, InsertAfter, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.sessions import analyse

DETERMINISM_ENV = ("TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC")
TFDETERMINISM_PATCH = ("tfdeterminism.patch", "tfdeterminism.enable_determinism")


class OpDeterminism(Rule):
    code = "TRM005"
    name = "op-determinism"
    summary = "determinism env vars / single-thread config / tfdeterminism.patch -> enable_op_determinism()"
    safety = Safety.SAFE
    order = 60
    triggers = ("DETERMINISTIC", "tfdeterminism", "parallelism_threads")

    def run(self, ctx: Context) -> None:
        signals: list[tuple[cst.CSTNode, cst.CSTNode, str]] = []  # (node, unit, description)
        for write in env_writes(ctx):
            if write.key in DETERMINISM_ENV and truthy_literal(write.value) and not version_gated(ctx, write.node):
                signals.append((write.node, write.unit, f"{write.key} set"))
        for setup in analyse(ctx).setups:
            if setup.config is not None and setup.single_threaded():
                signals.append((setup.config, ctx.unit_of(setup.config), "single-threaded ConfigProto"))
        patches = [
            c for c in ctx.calls_to(TFDETERMINISM_PATCH)
            if isinstance(ctx.unit_of(c), cst.Expr) and ctx.unit_of(c).value is c  # type: ignore[attr-defined]
        ]
        for call in patches:
            signals.append((call, ctx.unit_of(call), "tfdeterminism.patch()"))
        if not signals:
            return
        signals.sort(key=lambda s: ctx.sort_key(s[0]))
        edits: list[Edit] = [ReplaceStatement(ctx.unit_of(c), []) for c in patches]
        what = ", ".join(dict.fromkeys(desc for _, _, desc in signals))
        if ctx.calls_to(OP_DETERMINISM):
            if edits:
                ctx.report(patches[0], self.code, "tfdeterminism.patch() removed: enable_op_determinism() is already called",
                           Safety.SAFE, edits, claim=patches)
            return
        anchor, seeded = self._anchor(ctx, signals[0][1])
        tf = ctx.tf_name(anchor, edits)
        lines = [*ctx.tf_prelude(anchor, tf), f"{tf}.config.experimental.enable_op_determinism()"]
        edits.append(InsertAfter(anchor, [statement(line + "\n", ctx.module) for line in lines]))
        if seeded:
            message = f"determinism requested ({what}) -> tf.config.experimental.enable_op_determinism() after the seed"
            safety = Safety.SAFE
        else:
            message = (f"determinism requested ({what}) -> enable_op_determinism(); no TF seed in this file, "
                       "and unseeded random ops raise under op determinism: seed TensorFlow first")
            safety = Safety.UNSAFE
        ctx.report(signals[0][0], self.code, message, safety, edits, claim=patches)

    @staticmethod
    def _anchor(ctx: Context, signal_unit: cst.CSTNode) -> tuple[cst.CSTNode, bool]:
        """Where the call goes: after the TF seed (True), else after the signal (False)."""
        landing: dict[cst.CSTNode, cst.CSTNode] = ctx.cache.get("seed_landing", {})  # type: ignore[assignment]
        for seed in seed_calls(ctx):
            if seed.library in ("tf", "tf2", "keras") and seed.statement and per_graph_context(ctx, seed.unit) is None:
                return landing.get(seed.unit, seed.unit), True
        # No seed: after the signal, but not before the file imports TensorFlow.
        units = ctx.block_units(ctx.block_of(signal_unit))
        anchor = signal_unit
        for unit in units[units.index(signal_unit) + 1 :]:
            if isinstance(unit, cst.Import) and any(
                a.evaluated_name == "tensorflow" or a.evaluated_name.startswith("tensorflow.") for a in unit.names
            ):
                anchor = unit
        return anchor, False
