"""Second pre-filter: can any name in this file resolve to something a rule asks about?

The text pre-filter lets through every file that says ``seed`` or ``Session``; in a large
tree most of those are ordinary code (``rng.seed(0)``, ``session.Session()`` inside a
library). Before paying for a libcst parse, this parses the file with Python's own ``ast``
(C code, several times faster) and answers the same question the engine's ``Context``
answers before its scope analysis (``might_resolve`` / ``possible_names``), for the whole
file at once: a node can only resolve to ``numpy.random.seed`` through an import that binds
its first name, so when no name or attribute chain of the file can, through any import of
any scope, be one of ``ENTRY_NAMES``, and no import makes the file a compat.v1 file, no rule
can report anything and the file is skipped.

Every answer is a superset of libcst's: a file that fails to parse here goes on to libcst
(which reports the error); a name bound by several imports counts for all of them.
"""

from __future__ import annotations

import ast
import warnings

from tf_repro_migrate.analysis import (
    COMPAT_V1_SWITCHES,
    GET_SESSION,
    GRAPH_MODE_MARKERS,
    KERAS_SEED,
    NP_SEED,
    OP_DETERMINISM,
    PY_SEED,
    RESET_GRAPH,
    SET_SESSION,
    TF2_SEED,
    TF_LEGACY_SEED,
)
from tf_repro_migrate.rules.eager_execution import ENABLE_EAGER
from tf_repro_migrate.rules.op_determinism import TFDETERMINISM_PATCH
from tf_repro_migrate.rules.seed_without_effect import ENTRY_NAMES as NO_EFFECT_NAMES
from tf_repro_migrate.rules.tf1_setup_calls import SETUP_CALLS
from tf_repro_migrate.sessions import CONFIG_PROTO, DEFAULT_GRAPH, GPU_OPTIONS, SESSIONS
from tf_repro_migrate.tf1_only import ENTRY_NAMES as TF1_ENTRY_NAMES

ENV = ("os.environ", "os.putenv")

# Every name a rule passes to Context.calls_to / Context.matches (tests/test_prescreen.py
# records them on the fixtures and checks they are all here).
ENTRY_NAMES = frozenset(
    (
        *PY_SEED, *NP_SEED, *TF_LEGACY_SEED, *TF2_SEED, *KERAS_SEED, *OP_DETERMINISM, *RESET_GRAPH,
        *SET_SESSION, *GET_SESSION, *COMPAT_V1_SWITCHES, *GRAPH_MODE_MARKERS, *CONFIG_PROTO,
        *GPU_OPTIONS, *SESSIONS, *DEFAULT_GRAPH, *TFDETERMINISM_PATCH, *ENV,
        *ENABLE_EAGER, *SETUP_CALLS, *TF1_ENTRY_NAMES, *NO_EFFECT_NAMES,
    )
)

def could_match(text: str) -> bool:
    """False only when no rule can find anything in ``text`` (which is valid Python)."""
    try:
        tree = python_ast(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return True  # let libcst parse it and report what is wrong
    return could_match_tree(tree)


def python_ast(text: str) -> ast.Module:
    """``ast.parse(text)`` without the warnings (invalid escapes and the like: not ours to report)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def could_match_tree(tree: ast.Module) -> bool:
    """``could_match`` on the file's already parsed Python syntax tree."""
    bindings: dict[str, list[tuple[str, str]]] = {}  # bound name -> (its dotted name, what it stands for)
    nodes = list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tensorflow.compat"):
                    return True  # compat.v1 files are reported from the import alone
                if alias.asname:
                    bindings.setdefault(alias.asname, []).append((alias.asname, alias.name))
                else:
                    root = alias.name.split(".", 1)[0]
                    bindings.setdefault(root, []).append((root, root))
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                continue  # relative: resolves to ".x", never a wanted name
            if node.module.startswith("tensorflow.compat"):
                return True
            for alias in node.names:
                if alias.name == "*":
                    continue  # libcst gives star imports no qualified names
                if node.module == "tensorflow" and alias.name == "compat":
                    return True
                bound = alias.asname or alias.name
                bindings.setdefault(bound, []).append((bound, f"{node.module}.{alias.name}"))
    if not bindings:
        return False
    for node in nodes:
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
        elif isinstance(node, ast.Name):
            dotted = node.id
        else:
            continue
        if dotted is None:
            continue
        root, _, rest = dotted.partition(".")
        for _, target in bindings.get(root, ()):
            name = f"{target}.{rest}" if rest else target
            if name in ENTRY_NAMES:
                return True
    return False


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
