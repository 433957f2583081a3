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

    Accepted: an int literal (also negated), ``int(...)``, and

    * a name bound only to one of those (or to another never-None expression), by a
      single assignment in its scope (module constants included), or a parameter whose
      default is an int literal (a caller could still pass None; we follow the common
      reading that such a helper is called with ints);
    * ``args.seed`` where ``args = parser.parse_args()`` (or ``args, _ =
      parser.parse_known_args()``) and the option was declared
      ``parser.add_argument('--seed', type=int, default=<int>)`` (see ``_argparse_int``);
    * ``self._seed`` set exactly once, in ``__init__``, to a never-None value, and
      assigned nowhere else in the file (see ``_init_attribute``).
    """
    return _never_none(ctx, expr, depth=0)


# How many names/attributes deep a seed is followed (``SEED = BASE``; ``default=SEED``).
_MAX_DEPTH = 4


def _never_none(ctx: Context, expr: cst.BaseExpression, depth: int) -> bool:
    if _int_valued(expr):
        return True
    if depth >= _MAX_DEPTH:
        return False
    if isinstance(expr, cst.Name):
        return _name_never_none(ctx, expr, depth)
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        return _argparse_int(ctx, expr, depth) or _init_attribute(ctx, expr, depth)
    return False


def _single_assignment(ctx: Context, name: cst.Name) -> object | None:
    """The only assignment of ``name`` visible from where it is read, or None."""
    scope: Scope | None = ctx.scopes.get(name)
    if scope is None:
        return None
    assignments = list(scope[name.value])
    return assignments[0] if len(assignments) == 1 else None


def _assigned_value(ctx: Context, assignment: object) -> cst.BaseExpression | None:
    """The value of ``name = value`` / ``name: T = value`` for a single-name assignment."""
    node = getattr(assignment, "node", None)
    parent = ctx.parents.get(node) if node is not None else None
    if isinstance(parent, cst.AssignTarget) and parent.target is node:
        assign = ctx.parents.get(parent)
        if isinstance(assign, cst.Assign) and len(assign.targets) == 1:
            return assign.value
    if isinstance(parent, cst.AnnAssign) and parent.target is node:
        return parent.value
    return None


def _name_never_none(ctx: Context, expr: cst.Name, depth: int) -> bool:
    assignment = _single_assignment(ctx, expr)
    if assignment is None:
        return False
    node = getattr(assignment, "node", None)
    if isinstance(node, cst.Param):
        return node.default is not None and _int_valued(node.default)
    value = _assigned_value(ctx, assignment)
    return value is not None and _never_none(ctx, value, depth + 1)


def _references(assignment: object) -> list[cst.Name]:
    return [a.node for a in getattr(assignment, "references", ()) if isinstance(a.node, cst.Name)]


# Methods of an ArgumentParser that cannot change an option's default or declare it again.
_PARSER_READS = frozenset(
    {"add_argument", "parse_args", "parse_known_args", "print_help", "print_usage", "format_help",
     "format_usage", "error", "exit"}
)
ARGUMENT_PARSER = "argparse.ArgumentParser"


def _argparse_int(ctx: Context, expr: cst.Attribute, depth: int) -> bool:
    """``args.<dest>`` where ``args = parser.parse_args(...)`` is assigned once, ``parser =
    argparse.ArgumentParser(...)`` once, and the one option with that ``dest`` is declared with
    ``type=int`` and a never-None ``default`` (no ``nargs``, no ``action``, no ``const``).

    Refused when the parser is used in any other way (``set_defaults`` can change the default,
    argument groups and helper functions can declare the option again) and when the
    attribute is assigned, deleted or reached through ``setattr``/``vars``."""
    assert isinstance(expr.value, cst.Name)
    namespace = _single_assignment(ctx, expr.value)
    if namespace is None:
        return False
    value = _assigned_value(ctx, namespace)
    parse = "parse_args"
    if value is None:  # ``args, rest = parser.parse_known_args()``
        value, parse = _known_args_value(ctx, namespace), "parse_known_args"
    if not (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == parse
        and isinstance(value.func.value, cst.Name)
    ):
        return False
    parser = _single_assignment(ctx, value.func.value)
    built = _assigned_value(ctx, parser) if parser is not None else None
    # qualified_names rather than matches: argparse is not a name that makes a file worth parsing
    if not (isinstance(built, cst.Call) and ARGUMENT_PARSER in ctx.qualified_names(built.func)):
        return False
    dest = expr.attr.value
    declarations: list[cst.Call] = []
    for ref in _references(parser):
        method = ctx.parents.get(ref)
        call = ctx.parents.get(method) if isinstance(method, cst.Attribute) else None
        if not (
            isinstance(method, cst.Attribute)
            and method.value is ref
            and method.attr.value in _PARSER_READS
            and isinstance(call, cst.Call)
            and call.func is method
        ):
            return False
        if method.attr.value == "add_argument" and _argument_dest(call) in (dest, None):
            declarations.append(call)
    if len(declarations) != 1 or _namespace_written(ctx, namespace, dest):
        return False
    keywords = {a.keyword.value: a.value for a in declarations[0].args if a.keyword is not None}
    if any(a.star for a in declarations[0].args) or {"nargs", "action", "const"} & set(keywords):
        return False
    kind, default = keywords.get("type"), keywords.get("default")
    if not (isinstance(kind, cst.Name) and kind.value == "int") or default is None:
        return False
    return _never_none(ctx, default, depth + 1)


def _known_args_value(ctx: Context, assignment: object) -> cst.BaseExpression | None:
    """The value of ``name, rest = value`` when ``name`` is the first of exactly two targets."""
    node = getattr(assignment, "node", None)
    element = ctx.parents.get(node) if node is not None else None
    pair = ctx.parents.get(element) if isinstance(element, cst.Element) else None
    target = ctx.parents.get(pair) if isinstance(pair, cst.Tuple) else None
    assign = ctx.parents.get(target) if isinstance(target, cst.AssignTarget) else None
    if (
        isinstance(pair, cst.Tuple)
        and len(pair.elements) == 2
        and pair.elements[0] is element
        and isinstance(assign, cst.Assign)
        and len(assign.targets) == 1
    ):
        return assign.value
    return None


def _argument_dest(call: cst.Call) -> str | None:
    """The ``dest`` argparse derives for an ``add_argument`` call; None when it cannot be read."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "dest":
            return _string_value(arg.value)
    flags = [_string_value(a.value) for a in call.args if a.keyword is None and not a.star]
    if not flags or any(f is None for f in flags):
        return None
    names = [f for f in flags if f is not None]
    long = [f for f in names if f.startswith("--")]
    chosen = long[0] if long else names[0]
    return chosen.lstrip("-").replace("-", "_")


def _namespace_written(ctx: Context, namespace: object, attr: str) -> bool:
    """Whether ``ns.<attr>`` is assigned, deleted or augmented anywhere, or ``ns`` is handed
    to ``setattr`` / ``vars`` / ``delattr`` (which can change any attribute)."""
    for ref in _references(namespace):
        parent = ctx.parents.get(ref)
        if isinstance(parent, cst.Arg):
            call = ctx.parents.get(parent)
            if isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value in (
                "setattr", "vars", "delattr"
            ):
                return True
        if isinstance(parent, cst.Attribute) and parent.value is ref and parent.attr.value == attr:
            if _is_target(ctx, parent):
                return True
    return False


def _is_target(ctx: Context, node: cst.CSTNode) -> bool:
    """Whether ``node`` is written: an assignment, augmented assignment, ``del`` or ``for`` target."""
    child, parent = node, ctx.parents.get(node)
    while isinstance(parent, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
        child, parent = parent, ctx.parents.get(parent)
    if isinstance(parent, cst.AssignTarget):
        return True
    if isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is child:
        return True
    if isinstance(parent, (cst.For, cst.CompFor)) and parent.target is child:
        return True
    if isinstance(parent, cst.Del):
        return True
    if isinstance(parent, cst.NamedExpr):
        return parent.target is child
    return isinstance(parent, cst.WithItem) and parent.asname is not None and parent.asname.name is child


def _init_attribute(ctx: Context, expr: cst.Attribute, depth: int) -> bool:
    """``self._seed`` read in a method of a class whose ``__init__`` sets ``self._seed = v``
    once, at the top level of its body, with a never-None ``v``; refused when any other
    assignment to an attribute of that name exists in the file (on any object), when the
    class body itself binds the name, or when ``setattr`` is called with that name."""
    assert isinstance(expr.value, cst.Name)
    attr = expr.attr.value
    method = _method_of(ctx, expr.value)
    if method is None:
        return False
    cls = _ancestor(ctx, method, 2)  # FunctionDef -> IndentedBlock -> ClassDef
    if not isinstance(cls, cst.ClassDef) or not isinstance(cls.body, cst.IndentedBlock):
        return False
    writes = _attribute_writes(ctx, attr)
    if writes is None or len(writes) != 1:
        return False
    target, value = writes[0]
    init = next(
        (s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None
    )
    if init is None or value is None or not isinstance(target.value, cst.Name):
        return False
    if _method_of(ctx, target.value) is not init or not isinstance(init.body, cst.IndentedBlock):
        return False
    line = _ancestor(ctx, target, 3)  # Attribute -> AssignTarget -> Assign -> line
    if line not in init.body.body:
        return False  # set under a condition or in a loop: another path may leave it unset
    for stmt in cls.body.body:  # a class attribute of that name (``_seed = None``) is a fallback value
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            targets = (
                [t.target for t in small.targets] if isinstance(small, cst.Assign)
                else [small.target] if isinstance(small, cst.AnnAssign) else []
            )
            if any(isinstance(t, cst.Name) and t.value == attr for t in targets):
                return False
    return _never_none(ctx, value, depth + 1)


def _method_of(ctx: Context, name: cst.Name) -> cst.FunctionDef | None:
    """The method whose first parameter ``name`` is (``self``), when it is a plain method of a class."""
    assignment = _single_assignment(ctx, name)
    param = getattr(assignment, "node", None)
    if not isinstance(param, cst.Param):
        return None
    func = _ancestor(ctx, param, 2)  # Param -> Parameters -> FunctionDef
    if not isinstance(func, cst.FunctionDef) or not func.params.params or func.params.params[0] is not param:
        return None
    if func.decorators:
        return None  # staticmethod / classmethod / property setters: the first parameter is not the instance
    return func if isinstance(_ancestor(ctx, func, 2), cst.ClassDef) else None


def _ancestor(ctx: Context, node: cst.CSTNode, levels: int) -> cst.CSTNode | None:
    current: cst.CSTNode | None = node
    for _ in range(levels):
        current = ctx.parents.get(current) if current is not None else None
    return current


def _attribute_writes(ctx: Context, attr: str) -> list[tuple[cst.Attribute, cst.BaseExpression | None]] | None:
    """Every write of ``<anything>.<attr>`` in the file, with the value for a plain
    ``x.attr = value``; None when ``setattr(..., '<attr>', ...)`` is called."""
    key = f"attribute_writes:{attr}"
    if key not in ctx.cache:
        collector = _AttributeWrites(ctx, attr)
        ctx.module.visit(collector)
        ctx.cache[key] = None if collector.setattr_seen else collector.found
    return ctx.cache[key]  # type: ignore[return-value]


class _AttributeWrites(cst.CSTVisitor):
    def __init__(self, ctx: Context, attr: str):
        self.ctx = ctx
        self.attr = attr
        self.found: list[tuple[cst.Attribute, cst.BaseExpression | None]] = []
        self.setattr_seen = False

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == self.attr and _is_target(self.ctx, node):
            parent = self.ctx.parents.get(node)
            assign = self.ctx.parents.get(parent) if isinstance(parent, cst.AssignTarget) else None
            simple = isinstance(assign, cst.Assign) and len(assign.targets) == 1 and assign.targets[0].target is node
            self.found.append((node, assign.value if simple else None))  # type: ignore[union-attr]

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in ("setattr", "delattr") and len(node.args) >= 2:
            if _string_value(node.args[1].value) == self.attr:
                self.setattr_seen = True


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
