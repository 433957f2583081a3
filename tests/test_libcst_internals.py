"""The installed libcst still has every private piece the engine's fast paths use.

Each fast path has a silent fallback (libcst_internals.py); these tests fail when the
installed libcst would make the engine take one, on the engine's real objects.
"""

from __future__ import annotations

import subprocess
import sys

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import RemoveImportsVisitor
from libcst.metadata import ExpressionContextProvider, MetadataWrapper, PositionProvider

from tf_repro_migrate import libcst_internals
from tf_repro_migrate.context import Context, Options
from tf_repro_migrate.walk import LazyPositions

SOURCE = "import os\nimport tensorflow as tf\n\ndef f():\n    tf.set_random_seed(1)\n    return os.sep\n"


def _context() -> Context:
    return Context(MetadataWrapper(cst.parse_module(SOURCE), unsafe_skip_copy=True), Options())


def test_positions_take_the_lazy_path_and_agree_with_libcst() -> None:
    assert libcst_internals.PositionProvidingCodegenState is not None
    assert libcst_internals.has_codegen()
    ctx = _context()
    assert isinstance(ctx.positions, LazyPositions)  # not the whole-file PositionProvider fallback
    full = MetadataWrapper(ctx.module, unsafe_skip_copy=True).resolve(PositionProvider)
    call = ctx.module.body[2].body.body[0].body[0].value  # type: ignore[attr-defined]
    assert ctx.positions[call] == full[call]


def test_expression_contexts_are_handed_to_the_wrapper() -> None:
    ctx = _context()
    computed = libcst_internals.computed_metadata(ctx.wrapper)
    assert computed is not None
    ctx.scopes  # noqa: B018 - resolves the scopes, with our expression contexts handed over
    assert ExpressionContextProvider in computed


def test_removed_node_visitor_is_importable_lazily() -> None:
    code = ("import sys\nimport tf_repro_migrate.libcst_internals as i\n"
            "assert 'libcst.codemod' not in sys.modules\n"
            "assert i.RemovedNodeVisitor is not None\nassert 'libcst.codemod' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_import_remover_exposes_its_unused_imports() -> None:
    module = cst.parse_module(SOURCE)
    wrapper = MetadataWrapper(module)
    context = CodemodContext(wrapper=wrapper)
    visitor = RemoveImportsVisitor(context)
    with visitor.resolve(wrapper):
        visitor.visit_Module(wrapper.module)
    assert libcst_internals.unused_imports(visitor) is not None
