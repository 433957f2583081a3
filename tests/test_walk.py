"""walk.py against libcst's own providers: the same parents, calls and positions, node for node."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import ExpressionContextProvider, MetadataWrapper, ParentNodeProvider, PositionProvider

from tf_repro_migrate.walk import _LEAVES, LazyPositions, TreeIndex, expression_contexts

ROOT = Path(__file__).parent.parent
SOURCES = sorted((ROOT / "tests" / "fixtures").glob("*.py")) + sorted((ROOT / "src" / "tf_repro_migrate").glob("*.py"))

AWKWARD = {
    "crlf_and_header": "# header\r\n\r\nimport tensorflow as tf\r\nx = (1 if tf else 2)\r\n",
    "no_trailing_newline": "import numpy as np\nnp.random.seed(1)",
    "decorators_and_ifexp": (
        "@dec(a())\n@other\ndef f(x=g()):\n    return h(x) if k() else m()\n\n"
        "class C(Base(n())):\n    y = [p(i) for i in q()]\n"
    ),
    "strings_and_continuations": 'x = f"{a()!r:>{b()}}" \\\n    + g("""\nmulti\n""")\nlambda: z()\n',
    "semicolons_and_suites": "import os; os.environ['A'] = '1'; f()\nif x: g(); h()\nelse: pass\n",
    "empty": "",
    "targets": (
        "a, (b.c, *d[e()]) = f\nx: int = y\nz += 1\ndel p, q.r, s[t]\n(w := 1)\n"
        "for i, j in k: pass\nwith m() as (n, o): pass\ntry: pass\nexcept E as err: pass\n"
        "import a.b as c\nfrom d import e as g\n[u for u, v in w if u]\n"
        "class K(B, metaclass=M):\n    global G\n    def f(self, a: int = 1, *args, k=2, **kw) -> R: ...\n"
        "match x:\n    case [a, *rest] if a: pass\n    case {'k': v, **others}: pass\n"
    ),
}


def _cases():
    yield from ((p.name, p.read_text()) for p in SOURCES)
    yield from AWKWARD.items()


@pytest.mark.parametrize("name,text", list(_cases()), ids=[n for n, _ in _cases()])
def test_parents_calls_and_positions_match_libcst(name, text):
    module = cst.parse_module(text)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    parents = wrapper.resolve(ParentNodeProvider)
    positions = wrapper.resolve(PositionProvider)
    index = TreeIndex(module)
    lazy = LazyPositions(module, index.parents)

    expected = {node for node in parents if not isinstance(node, _LEAVES)}
    assert set(index.parents) == expected
    for node, parent in index.parents.items():
        assert parent is parents[node]
        assert lazy[node] == positions[node], (type(node).__name__, lazy[node], positions[node])

    class Calls(cst.CSTVisitor):
        def __init__(self):
            self.found = []

        def visit_Call(self, node):
            self.found.append(node)

    contexts = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ExpressionContextProvider)
    assert expression_contexts(module) == dict(contexts)

    calls = Calls()
    module.visit(calls)
    assert {id(c) for c in index.calls} == {id(c) for c in calls.found}
    assert len(index.calls) == len(calls.found)


def test_positions_are_computed_only_for_the_statements_asked_about():
    module = cst.parse_module("a()\nb()\nc()\n")
    index = TreeIndex(module)
    lazy = LazyPositions(module, index.parents)
    third = module.body[2].body[0].value
    assert lazy[third].start.line == 3
    assert len(lazy) < len(index.parents)  # the first two statements were never generated
    assert lazy.get(cst.Name("elsewhere")) is None
