"""TRM009 compat-v1-file: graph-mode files, and the TF1-only names a migrated file still uses.

After ``import tensorflow.compat.v1 as tf`` (or a call to ``disable_v2_behavior()`` /
``disable_eager_execution()``), ``tf.set_random_seed``, ``tf.ConfigProto`` and
``tf.Session`` are valid TF2 code, while TF2 names such as ``tf.random.set_seed`` do
not exist under that alias. Such files are reported and not rewritten (the
report-only rules TRM006-TRM008 and TRM013 still run).

Being graph-mode by choice does not make every name valid: ``tf.placeholder`` spelled
through ``import tensorflow as tf`` next to ``tf.compat.v1.disable_eager_execution()``
still raises ``AttributeError`` on TF2. The finding lists every TF1-only name still in
the file (``tf1_only.py``; line numbers, and the ``tf.compat.v1`` spelling
``tf_upgrade_v2`` would write) and says to run ``tf_upgrade_v2`` or port them. In other
files the same list is reported for the TF1-only names that no other rule migrates or
reports (placeholders, ``tf.train.Saver``, ``tf.contrib``...): this tool migrates the
reproducibility set-up, not the whole program, and says so instead of letting the
file look finished.

Docs: https://www.tensorflow.org/guide/migrate/migrate_tf2 ,
https://www.tensorflow.org/guide/migrate/upgrade ,
https://www.tensorflow.org/api_docs/python/tf/compat/v1/disable_v2_behavior
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import compat_v1_file, version_gated
from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import ReplaceNode, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.rules.eager_execution import ENABLE_EAGER
from tf_repro_migrate.rules.tf1_setup_calls import SETUP_CALLS
from tf_repro_migrate.tf1_only import Reference, display, tf1_references, tf2_spelling

# Names another rule reports (or removes) wherever they are, in files that are not compat.v1
# files. The names TRM001/3/4/12 migrate are left out only where a fix rewrites them: a
# ``tf.GPUOptions()`` no rule can place still fails and is listed.
_OWNED = frozenset({*ENABLE_EAGER, *SETUP_CALLS})
_OWNED_MODULES = ("tensorflow.logging",)  # TRM011 reports the calls of tf.logging.*
_MAX_NAMES = 12
_MAX_LINES = 5


class CompatV1File(Rule):
    code = "TRM009"
    name = "compat-v1-file"
    summary = ("report graph-mode files (compat.v1 by choice: not rewritten) and the TF1-only names "
               "left in a file that fail on TF2")
    safety = Safety.MANUAL
    # Last: the listing leaves out what the other rules' fixes remove or rewrite.
    order = 95
    # The compat.v1 markers, and the words of the set-up the other rules migrate: the listing
    # of TF1-only names belongs to files this tool works on (no new word for the pre-filter).
    triggers = ("compat.v1", "compat import v1", "disable_v2_behavior", "disable_eager_execution",
                "seed", "Session", "ConfigProto", "GPUOptions", "set_session", "enable_eager_execution",
                "tf.logging", "tensorflow.logging", "_get_available_gpus", "reset_default_graph",
                "DETERMINISTIC", "parallelism_threads")
    in_compat_v1_files = True

    def run(self, ctx: Context) -> None:
        node = compat_v1_file(ctx)
        rewritten = _rewritten(ctx)
        every = tf1_references(ctx)
        references = [r for r in every if not _inside(ctx, r.node, rewritten) and not _guarded(ctx, r)]
        if node is not None:
            if not references:
                ctx.report(
                    node,
                    self.code,
                    "file runs TF1 graph code through tensorflow.compat.v1 by choice: its TF1 names are valid on "
                    "TF2 and are left as they are; port it to TF2 by hand if you want TF2 idioms",
                    Safety.MANUAL,
                )
                return
            ctx.report(
                node,
                self.code,
                "file runs TF1 graph code through tensorflow.compat.v1 by choice and is not rewritten, but it uses "
                f"TF1-only names that are not under tensorflow.compat.v1 and fail on TF2: {_listing(references)}; "
                "run tf_upgrade_v2 on the file (it writes these spellings) or port them",
                Safety.MANUAL,
            )
            return
        rest = _not_owned(every, references)
        if rest:
            ctx.report(
                rest[0].node,
                self.code,
                f"TF1-only names left in this file fail on TF2: {_listing(rest)}; this tool migrates the "
                "reproducibility set-up only: run tf_upgrade_v2 on the file or port them",
                Safety.MANUAL,
            )


def _rewritten(ctx: Context) -> set[cst.CSTNode]:
    """The nodes the fixes recorded so far replace or remove. Unsafe fixes count whether or
    not they are applied: their own finding says what is left to do."""
    nodes: set[cst.CSTNode] = set()
    for finding in ctx.findings:
        nodes.update(e.old for e in finding.edits if isinstance(e, (ReplaceNode, ReplaceStatement)))
    return nodes


def _guarded(ctx: Context, reference: Reference) -> bool:
    """TF1/TF2 shims (``except AttributeError``, ``if tf.__version__ ...``), imports inside a
    ``try`` and the names they bind: the file has a path that does not need the name."""
    if version_gated(ctx, reference.node):
        return True
    if reference.binding is not None:
        return next(ctx.enclosing(reference.node, (cst.Try,)), None) is not None
    node = reference.node
    if isinstance(node, cst.Name):  # a bare name a guarded import binds is the shim's variable
        scope = ctx.scopes.get(node)
        for assignment in scope[node.value] if scope is not None else ():
            bound_at = getattr(assignment, "node", None)
            if bound_at is not None and next(ctx.enclosing(bound_at, (cst.Try,)), None) is not None:
                return True
    return False


def _inside(ctx: Context, node: cst.CSTNode, nodes: set[cst.CSTNode]) -> bool:
    current: cst.CSTNode | None = node
    while current is not None:
        if current in nodes:
            return True
        current = ctx.parents.get(current)
    return False


def _not_owned(every: list[Reference], references: list[Reference]) -> list[Reference]:
    """The references no other rule migrates or reports. An import is one of them when a
    listed reference uses the name it binds, or nothing does (it stays and fails); an import
    whose every use another rule rewrites goes away with them (``import tensorflow.contrib.eager
    as tfe`` for ``tfe.enable_eager_execution()``). ``every`` also holds the references the
    fixes rewrite, ``references`` only those left."""
    used = {r.root for r in every if r.binding is None}
    listed = {r.root for r in references if r.binding is None and not _owned(r)}
    return [
        r for r in references
        if (r.binding is None and not _owned(r))
        or (r.binding is not None and (r.binding in listed or r.binding not in used))
    ]


def _owned(reference: Reference) -> bool:
    q = reference.qualified
    return q in _OWNED or any(q == m or q.startswith(m + ".") for m in _OWNED_MODULES)


def _listing(references: list[Reference]) -> str:
    """``tf.placeholder (lines 4, 9) -> tf.compat.v1.placeholder, tf.contrib.slim (line 2): removed``."""
    lines: dict[str, list[int]] = {}
    for ref in references:
        key = ref.qualified
        if ref.spelling == "":  # a removed module (tf.contrib.slim): one entry for all its names
            key = ".".join(key.split(".")[:3])
        seen = lines.setdefault(key, [])
        if ref.line not in seen:
            seen.append(ref.line)
    parts = []
    for qualified, at in list(lines.items())[:_MAX_NAMES]:
        shown = ", ".join(str(n) for n in at[:_MAX_LINES]) + (", ..." if len(at) > _MAX_LINES else "")
        where = f"line{'s' if len(at) > 1 else ''} {shown}"
        spelling = tf2_spelling(qualified)
        target = f" -> {spelling}" if spelling else ": removed in TF2, no replacement"
        parts.append(f"{display(qualified)} ({where}){target}")
    more = len(lines) - _MAX_NAMES
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")
