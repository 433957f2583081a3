"""TRM013 seed-without-effect: report TF seeds that graph mode makes ineffective, with the fix.

In graph mode a TF seed belongs to the default graph (``tf.compat.v1.set_random_seed``
and ``tf.random.set_seed`` set ``get_default_graph().seed``; random ops take their seed
when they are built). So a seed has no effect, and runs differ, when

* it is set before ``tf.compat.v1.disable_eager_execution()`` / ``disable_v2_behavior()``:
  it went to the eager context, and the graph that graph mode starts with has none;
* the graph's random ops were built (or a graph restored: ``import_meta_graph``,
  ``saver.restore``, ``saved_model.loader.load``) before it in the same block;
* ``tf.reset_default_graph()`` / ``K.clear_session()`` follows it in graph mode (a new
  default graph, without the seed).

Each is reported (manual) with the fix in the message. For the first, moving the
``disable_*()`` call above the seed is offered as an unsafe fix (statements in between
may rely on eager execution). Measured on TF 2.21 (tests/rules/test_seed_without_effect.py):
two fresh runs of a seed-then-disable script differ, and agree after the fix; in eager
mode ``K.clear_session()`` keeps the seed, so only graph mode is reported.

Docs: https://www.tensorflow.org/api_docs/python/tf/compat/v1/set_random_seed ,
https://www.tensorflow.org/api_docs/python/tf/compat/v1/disable_eager_execution
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import COMPAT_V1_SWITCHES, SeedCall, per_graph_context, seed_calls, version_gated
from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import Edit, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule

_V1 = ("tensorflow.", "tensorflow.compat.v1.")
RANDOM_OPS = tuple(
    f"{prefix}{name}"
    for prefix in _V1
    for name in (
        "random_uniform", "random_normal", "truncated_normal", "random_shuffle", "multinomial", "random_gamma",
        "random_poisson", "random.uniform", "random.normal", "random.truncated_normal", "random.shuffle",
        "random.categorical", "random.gamma", "random.poisson", "nn.dropout", "get_variable", "layers.dense",
        "layers.conv2d", "layers.dropout",
    )
)
RESTORES = tuple(f"{prefix}{name}" for prefix in _V1 for name in ("train.import_meta_graph", "saved_model.loader.load"))
SAVERS = tuple(f"{prefix}train.Saver" for prefix in _V1)
GRAPH_RESETS = (
    "tensorflow.reset_default_graph",
    "tensorflow.compat.v1.reset_default_graph",
    "keras.backend.clear_session",
    "tensorflow.keras.backend.clear_session",
    "tensorflow.compat.v1.keras.backend.clear_session",
    "tensorflow.python.keras.backend.clear_session",
)
ENTRY_NAMES = (*RANDOM_OPS, *RESTORES, *SAVERS, *GRAPH_RESETS)


class SeedWithoutEffect(Rule):
    code = "TRM013"
    name = "seed-without-effect"
    summary = "report TF seeds graph mode ignores (set before disable_eager_execution, after the ops, before a reset)"
    safety = Safety.MANUAL
    order = 6
    triggers = ("seed",)
    in_compat_v1_files = True

    def run(self, ctx: Context) -> None:
        seeds = [s for s in seed_calls(ctx) if s.library in ("tf", "tf2", "keras") and not version_gated(ctx, s.call)]
        if not seeds:
            return
        switches = [c for c in ctx.calls_to(COMPAT_V1_SWITCHES) if not version_gated(ctx, c)]
        moved: set[cst.CSTNode] = set()
        for seed in seeds:
            switch = self._later_switch(ctx, seed, switches)
            if switch is not None:
                self._before_switch(ctx, seed, switch, moved)
                continue
            if not (switches or per_graph_context(ctx, seed.unit) is not None):
                continue  # eager: ops run when called, and clear_session keeps the seed (measured)
            built = self._earlier(ctx, seed, RANDOM_OPS) or self._restore_before(ctx, seed)
            if built is not None:
                call, what = built
                ctx.report(
                    seed.call,
                    self.code,
                    f"graph-level seed set after {what} on line {ctx.positions[call].start.line}: ops built before it "
                    "keep no seed, so runs differ; set the seed before building the graph",
                    Safety.MANUAL,
                )
            reset = self._later(ctx, seed, GRAPH_RESETS)
            if reset is not None:
                ctx.report(
                    seed.call,
                    self.code,
                    f"{ctx.code(reset.func)}() on line {ctx.positions[reset].start.line} replaces the default "
                    "graph and drops the seed set here (TF1 seeds belong to a graph), so runs differ; set the seed "
                    "again after it",
                    Safety.MANUAL,
                )

    # -- seed before disable_eager_execution() -------------------------------------------------

    @staticmethod
    def _later_switch(ctx: Context, seed: SeedCall, switches: list[cst.Call]) -> cst.Call | None:
        """The first ``disable_*()`` that runs after ``seed``, in the same block."""
        block = ctx.block_of(seed.unit)
        units = ctx.block_units(block)
        for switch in switches:
            unit = ctx.unit_of(switch)
            if unit in units and units.index(unit) > units.index(seed.unit):
                return switch
        return None

    def _before_switch(self, ctx: Context, seed: SeedCall, switch: cst.Call, moved: set[cst.CSTNode]) -> None:
        spelled = ctx.code(switch.func)
        line = ctx.positions[switch].start.line
        message = (
            f"seed set before {spelled}() on line {line} has no effect: it seeds the eager context, and the graph "
            f"that graph mode starts with has no seed, so runs differ; call {spelled}() first, then set the seed"
        )
        switch_unit = ctx.unit_of(switch)
        edits: list[Edit] = []
        movable = (
            isinstance(switch_unit, cst.Expr)
            and switch_unit.value is switch
            and isinstance(seed.unit, cst.Expr)
            and switch_unit not in moved
            and _alone_on_its_line(ctx, seed.unit)
            and _alone_on_its_line(ctx, switch_unit)
        )
        if movable:
            moved.add(switch_unit)
            edits = [
                ReplaceStatement(switch_unit, []),
                ReplaceStatement(
                    seed.unit,
                    [statement(f"{ctx.code(unit)}\n", ctx.module) for unit in (switch_unit, seed.unit)],
                ),
            ]
            message += " (offered as an unsafe fix: code in between may rely on eager execution)"
        ctx.report(seed.call, self.code, message, Safety.UNSAFE if edits else Safety.MANUAL, edits)

    # -- ops before / resets after the seed ------------------------------------------------------

    @staticmethod
    def _units_around(ctx: Context, seed: SeedCall) -> tuple[list[cst.CSTNode], list[cst.CSTNode]]:
        units = ctx.block_units(ctx.block_of(seed.unit))
        index = units.index(seed.unit)
        return units[:index], units[index + 1:]

    @staticmethod
    def _in_units(ctx: Context, call: cst.Call, units: list[cst.CSTNode]) -> bool:
        wanted = set(units)
        current: cst.CSTNode | None = call
        while current is not None:
            if current in wanted:
                return True
            current = ctx.parents.get(current)
        return False

    def _earlier(self, ctx: Context, seed: SeedCall, names: tuple[str, ...]) -> tuple[cst.Call, str] | None:
        before, _ = self._units_around(ctx, seed)
        for call in ctx.calls_to(names):
            if self._in_units(ctx, call, before):
                return call, f"the random op {ctx.code(call.func)}()"
        return None

    def _restore_before(self, ctx: Context, seed: SeedCall) -> tuple[cst.Call, str] | None:
        before, _ = self._units_around(ctx, seed)
        for call in ctx.calls_to(RESTORES):
            if self._in_units(ctx, call, before):
                return call, f"the graph was restored with {ctx.code(call.func)}()"
        savers = {id(c) for c in ctx.calls_to(SAVERS)}
        for call in ctx.index.calls:
            func = call.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value == "restore"
                and isinstance(func.value, cst.Name)
                and self._in_units(ctx, call, before)
                and _bound_to_saver(ctx, func.value, savers)
            ):
                return call, f"the graph was restored with {ctx.code(func)}()"
        return None

    def _later(self, ctx: Context, seed: SeedCall, names: tuple[str, ...]) -> cst.Call | None:
        _, after = self._units_around(ctx, seed)
        for call in ctx.calls_to(names):
            if self._in_units(ctx, call, after):
                return call
        return None


def _alone_on_its_line(ctx: Context, unit: cst.CSTNode) -> bool:
    line = ctx.parents.get(unit)
    return isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1


def _bound_to_saver(ctx: Context, name: cst.Name, savers: set[int]) -> bool:
    scope = ctx.scopes.get(name)
    if scope is None:
        return False
    for assignment in scope[name.value]:
        node = getattr(assignment, "node", None)
        target = ctx.parents.get(node) if node is not None else None
        assign = ctx.parents.get(target) if isinstance(target, cst.AssignTarget) else None
        if isinstance(assign, cst.Assign) and id(assign.value) in savers:
            return True
    return False
