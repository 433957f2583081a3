"""TRM012 tf1-references: every other reference to the TF1-only names this tool migrates -> ``tf.compat.v1``.

The session and seed rules rewrite *calls* of ``tf.Session``, ``tf.ConfigProto``,
``tf.GPUOptions`` and ``tf.set_random_seed``. The same names also appear where nothing
calls them: an annotation (``def run(sess: tf.Session = None)``), ``isinstance(x,
tf.Session)``, a default argument (``session_cls=tf.InteractiveSession``), an alias
(``Session = tf.Session``). TF2 evaluates those at ``def`` / import time and raises
``AttributeError``, so a file whose calls were migrated would still fail to load. Each
such reference is renamed to its ``tf.compat.v1`` spelling (the same objects, present
since TF 1.13); a name bound by ``from tensorflow import Session`` is spelled through the
module, and the import the rename leaves unused is removed. Version-gated code is left
as it is; files written against ``tensorflow.compat.v1`` are TRM009's.

Docs: https://www.tensorflow.org/api_docs/python/tf/compat/v1/Session ,
https://www.tensorflow.org/guide/migrate/upgrade
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import version_gated
from tf_repro_migrate.context import Context, expression
from tf_repro_migrate.findings import Edit, ReplaceNode, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.tf1_only import tf1_references

# The TF1-only names whose calls the other rules migrate (TRM001, TRM003, TRM004).
TOUCHED = {
    "tensorflow.Session": "Session",
    "tensorflow.InteractiveSession": "InteractiveSession",
    "tensorflow.ConfigProto": "ConfigProto",
    "tensorflow.GPUOptions": "GPUOptions",
    "tensorflow.set_random_seed": "set_random_seed",
    "tensorflow.random.set_random_seed": "random.set_random_seed",
}


class TF1References(Rule):
    code = "TRM012"
    name = "tf1-references"
    summary = "annotations, isinstance(), default arguments of tf.Session / tf.ConfigProto / ... -> tf.compat.v1"
    safety = Safety.SAFE
    order = 45
    triggers = ("Session", "ConfigProto", "GPUOptions", "set_random_seed")

    def run(self, ctx: Context) -> None:
        if not ctx.might_resolve(TOUCHED):
            return
        for ref in tf1_references(ctx):  # one walk, shared with TRM009
            node = ref.node
            if ref.binding is not None or ref.qualified not in TOUCHED:
                continue  # an import, or a TF1 name no other rule migrates (TRM009 lists those)
            parent = ctx.parents.get(node)
            if isinstance(parent, cst.Call) and parent.func is node:
                continue  # a call: the seed and session rules own it
            if isinstance(node, cst.Name) and not _plain_import(ctx, node):
                continue
            if node in ctx.claimed or version_gated(ctx, node):
                continue
            edits: list[Edit] = []
            target = f"{ctx.tf_name(node, edits)}.compat.v1.{TOUCHED[ref.qualified]}"
            edits.append(ReplaceNode(node, expression(target, ctx.module)))
            ctx.report(
                node,
                self.code,
                f"{ctx.code(node)} does not exist in TF2 (AttributeError where this runs; annotations and default "
                f"arguments run when the file loads) -> {target}",
                Safety.SAFE,
                edits,
                claim=[node],
            )


def _plain_import(ctx: Context, node: cst.Name) -> bool:
    """A bare name bound only by unguarded imports of one TOUCHED name. A name that a
    ``try: from tensorflow import X / except ImportError: X = None`` shim binds is a
    variable of the shim (``if X is not None``), not the TF1 name."""
    if len(ctx.qualified_names(node)) != 1:
        return False
    scope = ctx.scopes.get(node)
    if scope is None:
        return False
    for assignment in scope[node.value]:
        bound_at = getattr(assignment, "node", None)
        if not isinstance(bound_at, (cst.Import, cst.ImportFrom)):
            return False
        if next(ctx.enclosing(bound_at, (cst.Try,)), None) is not None:
            return False
    return True
