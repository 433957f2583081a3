"""Facts several rules share: seed calls, environment-variable writes, graph-mode
markers and guards. Each is computed once per file and cached on the context."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import Scope

from tf_repro_migrate.context import Context

PY_SEED = ("random.seed",)
NP_SEED = ("numpy.random.seed",)
TF_LEGACY_SEED = (
    "tensorflow.set_random_seed",
    "tensorflow.random.set_random_seed",
    "tensorflow.compat.v1.set_random_seed",
    "tensorflow.compat.v1.random.set_random_seed",
)
TF2_SEED = ("tensorflow.random.set_seed",)
KERAS_SEED = (
    "keras.utils.set_random_seed",
    "tensorflow.keras.utils.set_random_seed",
    "keras.src.utils.set_random_seed",
)
OP_DETERMINISM = ("tensorflow.config.experimental.enable_op_determinism",)
RESET_GRAPH = ("tensorflow.reset_default_graph", "tensorflow.compat.v1.reset_default_graph")

KERAS_BACKENDS = (
    "keras.backend",
    "keras.backend.tensorflow_backend",
    "tensorflow.keras.backend",
    "tensorflow.compat.v1.keras.backend",
    "tensorflow.python.keras.backend",
)
SET_SESSION = tuple(f"{b}.set_session" for b in KERAS_BACKENDS)
GET_SESSION = (*(f"{b}.get_session" for b in KERAS_BACKENDS), "tensorflow.get_default_session",
               "tensorflow.compat.v1.get_default_session")

# Names whose presence means the file builds TF1 graphs and runs them in sessions.
GRAPH_MODE_MARKERS = tuple(
    f"tensorflow.{prefix}{name}"
    for prefix in ("", "compat.v1.")
    for name in (
        "placeholder",
        "train.Saver",
        "gradients",
        "app.flags",
        "global_variables_initializer",
        "local_variables_initializer",
        "train.start_queue_runners",
        "get_variable",
        "variable_scope",
    )
)

COMPAT_V1_SWITCHES = (
    "tensorflow.compat.v1.disable_v2_behavior",
    "tensorflow.compat.v1.disable_eager_execution",
    "tensorflow.disable_v2_behavior",
    "tensorflow.disable_eager_execution",
)


@dataclass(frozen=True)
class SeedCall:
    """A global seeding call: which library, the call, its statement unit and its seed expression."""

    library: str  # "python" | "numpy" | "tf" | "tf2" | "keras"
    call: cst.Call
    unit: cst.CSTNode
    expr: cst.BaseExpression | None
    statement: bool  # the call is a whole statement (not inside a lambda, list, condition...)


def seed_argument(call: cst.Call) -> cst.BaseExpression | None:
    """The seed expression of a one-argument seeding call (positional or ``seed=``)."""
    if len(call.args) != 1:
        return None
    arg = call.args[0]
    if arg.star or (arg.keyword is not None and arg.keyword.value != "seed"):
        return None
    return arg.value


def is_none(expr: cst.BaseExpression | None) -> bool:
    return expr is None or (isinstance(expr, cst.Name) and expr.value == "None")


def seed_calls(ctx: Context) -> list[SeedCall]:
    """All global seeding calls in the file that seed with a value (``seed(None)`` unseeds).

    Calls whose value is used (in a lambda, a list, a condition) are included with
    ``statement=False``: they can be renamed, but not merged, removed or anchored to."""
    cached = ctx.cache.get("seed_calls")
    if cached is not None:
        return cached  # type: ignore[return-value]
    found: list[SeedCall] = []
    for library, names in (
        ("python", PY_SEED),
        ("numpy", NP_SEED),
        ("tf", TF_LEGACY_SEED),
        ("tf2", TF2_SEED),
        ("keras", KERAS_SEED),
    ):
        for call in ctx.calls_to(names):
            expr = seed_argument(call)
            if library in ("python", "numpy") and is_none(expr):
                continue
            unit = ctx.unit_of(call)
            statement = isinstance(unit, cst.Expr) and unit.value is call
            found.append(SeedCall(library, call, unit, expr, statement))
    found.sort(key=lambda s: ctx.sort_key(s.call))
    ctx.cache["seed_calls"] = found
    return found


def never_none(ctx: Context, expr: cst.BaseExpression) -> bool:
    """True when the seed expression cannot be None.

    Accepted: an int literal (also negated), ``int(...)``, and a name bound only to
    one of those, either by a single assignment in its scope or as a parameter whose
    default is an int literal (a caller could still pass None; we follow the
    common reading that such a helper is called with ints).
    """
    if _int_valued(expr):
        return True
    if not isinstance(expr, cst.Name):
        return False
    scope: Scope | None = ctx.scopes.get(expr)
    if scope is None:
        return False
    assignments = list(scope[expr.value])
    if len(assignments) != 1:
        return False
    node = getattr(assignments[0], "node", None)
    if isinstance(node, cst.Param):
        return node.default is not None and _int_valued(node.default)
    parent = ctx.parents.get(node) if node is not None else None
    if isinstance(parent, cst.AssignTarget):
        assign = ctx.parents.get(parent)
        return isinstance(assign, cst.Assign) and len(assign.targets) == 1 and _int_valued(assign.value)
    if isinstance(parent, cst.AnnAssign):
        return parent.value is not None and _int_valued(parent.value)
    return False


def _int_valued(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Integer):
        return True
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.expression, cst.Integer):
        return True
    # ``int(...)``; spelled out rather than with libcst.matchers, whose import is slow
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "int"


# -- environment variables ----------------------------------------------------------------------


@dataclass(frozen=True)
class EnvWrite:
    """``os.environ[...] = v`` and its other spellings; ``simple`` when the unit sets only this key."""

    key: str
    value: cst.BaseExpression
    unit: cst.CSTNode
    node: cst.CSTNode
    simple: bool


def env_writes(ctx: Context) -> list[EnvWrite]:
    cached = ctx.cache.get("env_writes")
    if cached is not None:
        return cached  # type: ignore[return-value]
    if not ctx.might_resolve(("os.environ", "os.putenv")):
        ctx.cache["env_writes"] = []  # every write is found through those names: skip the visit
        return []
    collector = _EnvCollector(ctx)
    ctx.module.visit(collector)
    ctx.cache["env_writes"] = collector.found
    return collector.found


def _string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


class _EnvCollector(cst.CSTVisitor):
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.found: list[EnvWrite] = []

    def _is_environ(self, node: cst.BaseExpression) -> bool:
        return self.ctx.matches(node, ("os.environ",))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            sub = target.target
            if isinstance(sub, cst.Subscript) and self._is_environ(sub.value) and len(sub.slice) == 1:
                index = sub.slice[0].slice
                key = _string_value(index.value) if isinstance(index, cst.Index) else None
                if key is not None:
                    self.found.append(EnvWrite(key, node.value, self.ctx.unit_of(node), node, len(node.targets) == 1))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or not self._is_environ(func.value):
            if self.ctx.matches(func, ("os.putenv",)) and len(node.args) == 2:
                key = _string_value(node.args[0].value)
                if key is not None:
                    self._add(key, node.args[1].value, node, simple=True)
            return
        method = func.attr.value
        if method == "setdefault" and len(node.args) == 2:
            key = _string_value(node.args[0].value)
            if key is not None:
                self._add(key, node.args[1].value, node, simple=True)
        elif method == "update":
            pairs: list[tuple[str, cst.BaseExpression]] = []
            for arg in node.args:
                if arg.keyword is not None:
                    pairs.append((arg.keyword.value, arg.value))
                elif isinstance(arg.value, cst.Dict):
                    for element in arg.value.elements:
                        if isinstance(element, cst.DictElement):
                            key = _string_value(element.key)
                            if key is not None:
                                pairs.append((key, element.value))
            for key, value in pairs:
                self._add(key, value, node, simple=len(pairs) == 1)

    def _add(self, key: str, value: cst.BaseExpression, call: cst.Call, simple: bool) -> None:
        unit = self.ctx.unit_of(call)
        is_statement = isinstance(unit, cst.Expr) and unit.value is call
        self.found.append(EnvWrite(key, value, unit, call, simple and is_statement))


def truthy_literal(value: cst.BaseExpression) -> bool:
    """``'1'``, ``'true'``, ``1``, ``True``: the values TF reads as "on"."""
    text = _string_value(value)
    if text is not None:
        return text.strip().lower() in ("1", "true", "yes")
    if isinstance(value, cst.Integer):
        return value.value != "0"
    return isinstance(value, cst.Name) and value.value == "True"


# -- file-level traits ---------------------------------------------------------------------------


def compat_v1_file(ctx: Context) -> cst.CSTNode | None:
    """The node that makes this file graph-mode by choice (compat.v1 alias or v2 switched off)."""
    if "compat_v1" in ctx.cache:
        return ctx.cache["compat_v1"]  # type: ignore[return-value]
    found: cst.CSTNode | None = None
    calls = ctx.calls_to(COMPAT_V1_SWITCHES)
    if calls:
        found = calls[0]
    else:
        for stmt in ctx.import_statements():
            if isinstance(stmt, cst.Import):
                for alias in stmt.names:
                    if alias.evaluated_name == "tensorflow.compat.v1" and alias.asname is not None:
                        found = stmt
            elif isinstance(stmt, cst.ImportFrom) and stmt.module is not None and not stmt.relative:
                module = ctx.code(stmt.module)
                if module == "tensorflow.compat" and not isinstance(stmt.names, cst.ImportStar):
                    if any(alias.evaluated_name == "v1" for alias in stmt.names):
                        found = stmt
            if found is not None:
                break
    ctx.cache["compat_v1"] = found
    return found


def graph_mode_file(ctx: Context) -> bool:
    """Whether the file builds TF1 graphs (placeholders, Saver, get_session...)."""
    if "graph_mode" not in ctx.cache:
        ctx.cache["graph_mode"] = bool(ctx.calls_to(GRAPH_MODE_MARKERS + GET_SESSION))
    return bool(ctx.cache["graph_mode"])


def imports_tensorflow(ctx: Context) -> bool:
    if "imports_tf" not in ctx.cache:
        found = False
        for stmt in ctx.import_statements():
            names = (
                [a.evaluated_name for a in stmt.names]
                if isinstance(stmt, cst.Import)
                else [ctx.code(stmt.module)] if stmt.module is not None else []
            )
            if any(n == "tensorflow" or n.startswith(("tensorflow.", "keras")) for n in names):
                found = True
                break
        ctx.cache["imports_tf"] = found
    return bool(ctx.cache["imports_tf"])


def version_gated(ctx: Context, node: cst.CSTNode) -> bool:
    """Inside a TF1/TF2 compatibility shim: ``try: ... except AttributeError`` (or a bare
    except) or an ``if`` testing ``__version__`` / ``VERSION`` / ``hasattr``. Those keep
    their shape and contents (ImportError guards are not shims: their body is migrated)."""
    for ancestor in ctx.enclosing(node, (cst.Try, cst.If, cst.IfExp)):
        if isinstance(ancestor, cst.Try):
            if _catches(ctx, ancestor, ("AttributeError", "NameError")):
                return True
        elif isinstance(ancestor, (cst.If, cst.IfExp)):
            test = ctx.code(ancestor.test)
            if "__version__" in test or "VERSION" in test or "hasattr(" in test:
                return True
    return False


def _catches(ctx: Context, node: cst.Try, errors: tuple[str, ...]) -> bool:
    """Whether a handler of ``node`` is bare or names one of ``errors``."""
    for handler in node.handlers:
        if handler.type is None:
            return True
        caught = ctx.code(handler.type)
        if any(error in caught for error in errors):
            return True
    return False


def per_graph_context(ctx: Context, unit: cst.CSTNode) -> str | None:
    """Why a TF seed at ``unit`` is per-graph: inside ``with <graph>.as_default()`` /
    ``with tf.Session(...)``, or after ``tf.reset_default_graph()`` in the same block."""
    for with_node in ctx.enclosing(unit, (cst.With,)):
        assert isinstance(with_node, cst.With)
        for item in with_node.items:
            text = ctx.code(item.item)
            if ".as_default(" in text or "Graph(" in text or "Session(" in text:
                return "it is inside `with graph.as_default()`: TF1 seeds that graph only"
    block = ctx.block_of(unit)
    for other in ctx.calls_to(RESET_GRAPH):
        other_unit = ctx.unit_of(other)
        if ctx.block_of(other_unit) is block and ctx.sort_key(other) < ctx.sort_key(unit):
            return "it follows `tf.reset_default_graph()`: TF1 seeds the new default graph only"
    return None


def optional_import_of(ctx: Context, module: str) -> bool:
    """Whether the file imports ``module`` (or a submodule) only inside ``try:`` bodies whose
    handlers catch ImportError: the file runs without that package installed. An import that a
    rewrite adds at the top of the file would make the package a hard requirement."""
    key = f"optional_import:{module}"
    if key not in ctx.cache:
        found = [s for s in ctx.import_statements() if _imports_module(ctx, s, module)]
        ctx.cache[key] = bool(found) and all(_import_error_guarded(ctx, s) for s in found)
    return bool(ctx.cache[key])


def _imports_module(ctx: Context, stmt: cst.Import | cst.ImportFrom, module: str) -> bool:
    if isinstance(stmt, cst.Import):
        names = [a.evaluated_name for a in stmt.names]
    elif stmt.module is not None and not stmt.relative:
        names = [ctx.code(stmt.module)]
    else:
        return False
    return any(n == module or n.startswith(module + ".") for n in names)


def _import_error_guarded(ctx: Context, stmt: cst.CSTNode) -> bool:
    """``stmt`` sits in the body of a ``try`` with an ``except ImportError`` (or
    ModuleNotFoundError, or bare) handler; a handler's own body does not count."""
    child, parent = stmt, ctx.parents.get(stmt)
    while parent is not None:
        if isinstance(parent, cst.Try) and parent.body is child and _catches(
            ctx, parent, ("ImportError", "ModuleNotFoundError")
        ):
            return True
        child, parent = parent, ctx.parents.get(parent)
    return False


def compat_v1_fallback(names: set[str]) -> bool:
    """A callee that also resolves to a ``tensorflow.compat.v1`` name: the file already has a
    TF2 path for it (``try: from tensorflow import Session`` / ``except ImportError: from
    tensorflow.compat.v1 import Session``), so a rename to compat.v1 has nothing to fix."""
    return any(n.startswith("tensorflow.compat.v1.") for n in names)
