"""TF1-only names: what no longer exists under ``tensorflow`` in TF2, and where it went.

The spellings on the right are the renames of TensorFlow's own ``tf_upgrade_v2`` script
(``tensorflow/tools/compatibility/renames_v2.py`` and the module moves in
``tf_upgrade_v2.py``). Each entry is one TF 1.x name that code next to reproducibility
set-up commonly uses; ``tests/test_tf1_only.py`` checks every entry against the installed
TensorFlow 2: the left name must be missing and the right one present.

``MODULES`` are whole TF1 namespaces that are gone (``tf.logging.*``, ``tf.contrib.*``);
a name under one of them is TF1-only whatever its last component.

Docs: https://www.tensorflow.org/guide/migrate/upgrade ,
https://www.tensorflow.org/api_docs/python/tf/compat/v1
"""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node

from tf_repro_migrate.context import Context

# tensorflow.<name> -> its TF2 spelling (after "tf.")
NAMES: dict[str, str] = {
    # sessions, configs and graphs
    "Session": "compat.v1.Session",
    "InteractiveSession": "compat.v1.InteractiveSession",
    "ConfigProto": "compat.v1.ConfigProto",
    "GPUOptions": "compat.v1.GPUOptions",
    "GraphOptions": "compat.v1.GraphOptions",
    "OptimizerOptions": "compat.v1.OptimizerOptions",
    "RunOptions": "compat.v1.RunOptions",
    "RunMetadata": "compat.v1.RunMetadata",
    "get_default_graph": "compat.v1.get_default_graph",
    "reset_default_graph": "compat.v1.reset_default_graph",
    "get_default_session": "compat.v1.get_default_session",
    "GraphKeys": "compat.v1.GraphKeys",
    "get_collection": "compat.v1.get_collection",
    "add_to_collection": "compat.v1.add_to_collection",
    # graph construction
    "placeholder": "compat.v1.placeholder",
    "placeholder_with_default": "compat.v1.placeholder_with_default",
    "sparse_placeholder": "compat.v1.sparse_placeholder",
    "get_variable": "compat.v1.get_variable",
    "variable_scope": "compat.v1.variable_scope",
    "get_variable_scope": "compat.v1.get_variable_scope",
    "AUTO_REUSE": "compat.v1.AUTO_REUSE",
    "global_variables": "compat.v1.global_variables",
    "trainable_variables": "compat.v1.trainable_variables",
    "global_variables_initializer": "compat.v1.global_variables_initializer",
    "local_variables_initializer": "compat.v1.local_variables_initializer",
    "variables_initializer": "compat.v1.variables_initializer",
    "tables_initializer": "compat.v1.tables_initializer",
    "assign": "compat.v1.assign",
    "Print": "compat.v1.Print",
    "to_float": "compat.v1.to_float",
    "to_int32": "compat.v1.to_int32",
    "log": "math.log",
    "random_normal": "random.normal",
    "random_uniform": "random.uniform",
    "truncated_normal": "random.truncated_normal",
    "random_shuffle": "random.shuffle",
    "multinomial": "random.categorical",
    "nn.softmax_cross_entropy_with_logits_v2": "nn.softmax_cross_entropy_with_logits",
    # seeds and execution modes
    "set_random_seed": "compat.v1.set_random_seed",
    "random.set_random_seed": "compat.v1.random.set_random_seed",
    "get_seed": "compat.v1.get_seed",
    "enable_eager_execution": "compat.v1.enable_eager_execution",
    "disable_eager_execution": "compat.v1.disable_eager_execution",
    "disable_v2_behavior": "compat.v1.disable_v2_behavior",
    "enable_v2_behavior": "compat.v1.enable_v2_behavior",
    "enable_resource_variables": "compat.v1.enable_resource_variables",
    # training
    "train.Saver": "compat.v1.train.Saver",
    "train.import_meta_graph": "compat.v1.train.import_meta_graph",
    "train.AdamOptimizer": "compat.v1.train.AdamOptimizer",
    "train.GradientDescentOptimizer": "compat.v1.train.GradientDescentOptimizer",
    "train.MomentumOptimizer": "compat.v1.train.MomentumOptimizer",
    "train.RMSPropOptimizer": "compat.v1.train.RMSPropOptimizer",
    "train.AdagradOptimizer": "compat.v1.train.AdagradOptimizer",
    "train.get_or_create_global_step": "compat.v1.train.get_or_create_global_step",
    "train.get_global_step": "compat.v1.train.get_global_step",
    "train.exponential_decay": "compat.v1.train.exponential_decay",
    "train.start_queue_runners": "compat.v1.train.start_queue_runners",
    "summary.FileWriter": "compat.v1.summary.FileWriter",
    "summary.merge_all": "compat.v1.summary.merge_all",
}

# Whole TF1 namespaces that are gone: tensorflow.<module>.* -> its TF2 home (None: removed).
MODULES: dict[str, str | None] = {
    "logging": "compat.v1.logging",
    "app": "compat.v1.app",
    "flags": "compat.v1.flags",
    "gfile": "compat.v1.gfile",
    "python_io": "compat.v1.python_io",
    "layers": "compat.v1.layers",
    "contrib": None,
}


def tf2_spelling(qualified: str) -> str | None:
    """The TF2 spelling (``tf.compat.v1.placeholder``) of a TF1-only qualified name, or None
    when ``qualified`` is not TF1-only. ``""`` when the name is gone without a replacement."""
    if not qualified.startswith("tensorflow."):
        return None
    rest = qualified[len("tensorflow."):]
    if rest in NAMES:
        return f"tf.{NAMES[rest]}"
    head, _, tail = rest.partition(".")
    if head in MODULES:
        home = MODULES[head]
        if home is None:
            return ""
        return f"tf.{home}.{tail}" if tail else f"tf.{home}"
    return None


def display(qualified: str) -> str:
    """``tensorflow.train.Saver`` as users write it: ``tf.train.Saver``."""
    return "tf" + qualified[len("tensorflow"):]


# Last components worth looking for in the text before any walk (most files have none).
_LEAVES = frozenset(
    {n.rsplit(".", 1)[-1] for n in NAMES} | {f"{m}." for m in MODULES} | set(MODULES)
)


class Reference:
    """One use of a TF1-only name: the outermost node that resolves to it, and where."""

    def __init__(self, node: cst.CSTNode, qualified: str, line: int, binding: str | None = None):
        self.node = node
        self.qualified = qualified
        self.line = line
        self.binding = binding  # for an import: the name it binds

    @property
    def root(self) -> str | None:
        """The first name of a reference's dotted spelling (``tf`` of ``tf.placeholder``)."""
        if self.binding is not None:
            return None
        full = get_full_name_for_node(self.node)
        return full.split(".", 1)[0] if full else None

    @property
    def spelling(self) -> str | None:
        return tf2_spelling(self.qualified)


def tf1_references(ctx: Context) -> list[Reference]:
    """Every reference in the file (calls, annotations, arguments, imports) to a TF1-only
    name, outermost node first, in source order. Names reached through a
    ``tensorflow.compat.v1`` alias resolve to ``tensorflow.compat.v1.*`` and are not listed."""
    cached = ctx.cache.get("tf1_references")
    if cached is not None:
        return cached  # type: ignore[return-value]
    found: list[Reference] = []
    text = ctx.text if ctx.text is not None else ctx.module.code  # generating the code costs a walk
    if "tensorflow" in text and any(leaf in text for leaf in _LEAVES) and ctx.might_resolve(ENTRY_NAMES):
        collector = _Collector(ctx)
        ctx.module.visit(collector)
        found = collector.found
        found.sort(key=lambda r: ctx.sort_key(r.node))
    ctx.cache["tf1_references"] = found
    return found


def _resolves(ctx: Context, node: cst.CSTNode) -> str | None:
    possible = ctx.possible_names(node)
    if not any(tf2_spelling(n) is not None for n in possible):
        return None  # spare the scope analysis
    names = ctx.qualified_names(node)
    tf1 = sorted(n for n in names if tf2_spelling(n) is not None)
    # A name that also resolves to something valid (``except ImportError: from
    # tensorflow.compat.v1 import Session``) has a TF2 path already.
    return tf1[0] if tf1 and len(tf1) == len(names) else None


class _Collector(cst.CSTVisitor):
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.found: list[Reference] = []

    def _add(self, node: cst.CSTNode, qualified: str, binding: str | None = None) -> None:
        self.found.append(Reference(node, qualified, self.ctx.positions[node].start.line, binding))

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            if tf2_spelling(alias.evaluated_name) is not None:
                bound = alias.evaluated_alias or alias.evaluated_name.split(".", 1)[0]
                self._add(node, alias.evaluated_name, bound)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return False
        module = self.ctx.code(node.module)
        for alias in node.names:
            name = f"{module}.{alias.evaluated_name}"
            if tf2_spelling(name) is not None:
                self._add(node, name, alias.evaluated_alias or alias.evaluated_name)
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        name = _resolves(self.ctx, node)
        if name is None:
            return True
        self._add(node, name)
        return False  # the inner ``tf.logging`` of ``tf.logging.info`` is the same reference

    def visit_Name(self, node: cst.Name) -> None:
        parent = self.ctx.parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return
        name = _resolves(self.ctx, node)
        if name is not None:
            self._add(node, name)


# For the prescreen: a file that names none of these (nor another rule's names) is skipped.
ENTRY_NAMES = tuple(f"tensorflow.{name}" for name in NAMES)
