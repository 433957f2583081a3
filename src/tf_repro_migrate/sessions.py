"""Analysis of TF1 session set-up blocks, shared by the session rules (TRM003, TRM004).

A *setup* is one ``ConfigProto`` (with the ``GPUOptions`` and attribute mutations
that feed it), the sessions built from it, and the ``set_session`` calls that hand
those sessions to Keras. A setup can be turned into ``tf.config`` calls only when
everything about it is visible: the session's only use is ``set_session`` (or
nothing), the config's only uses are the session and field mutations in the same
scope, and nothing in the file reads the session back (``K.get_session()``).

Uses are counted per *binding*, from libcst's scope analysis (which binding each read may
see), never by name: a function that reuses the name has set-ups of its own, and a later
``cfg = ...`` that always runs before a read ends the earlier binding (``_live``). A
session whose config is bound once per branch of an ``if``/``elif``/``else`` takes each
binding as its own set-up (its *alternatives*), converted in its branch; the session and
its alternatives are converted or kept together.

A *session factory* is a module-level function whose last statement is ``return
tf.Session(config=...)`` and whose calls in the file are all ``set_session(f(...))`` (or a bare
``f(...)``): its set-up is converted inside the function (which then returns nothing) and each
``set_session(f(...))`` becomes ``f(...)``. A public factory (no leading underscore) may be
called from other files that use the session it returns; a single-file run cannot see them,
so its conversion is an unsafe fix (``factory_unsafe`` says why), as is one whose name is
used other than as a call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import libcst as cst
from libcst.metadata import Access, BaseAssignment

from tf_repro_migrate.analysis import GET_SESSION, SET_SESSION
from tf_repro_migrate.context import Context

CONFIG_PROTO = ("tensorflow.ConfigProto", "tensorflow.compat.v1.ConfigProto")
GPU_OPTIONS = ("tensorflow.GPUOptions", "tensorflow.compat.v1.GPUOptions")
SESSIONS = (
    "tensorflow.Session",
    "tensorflow.compat.v1.Session",
    "tensorflow.InteractiveSession",
    "tensorflow.compat.v1.InteractiveSession",
)
# The problem of a config no session of the file takes (returned, stored, passed on).
NO_SESSION = "the config is not passed to a session in this file"
DEFAULT_GRAPH = ("tensorflow.get_default_graph", "tensorflow.compat.v1.get_default_graph")


@dataclass
class FieldSet:
    """One config field set somewhere: ``path`` like ``gpu_options.allow_growth``."""

    path: str
    value: cst.BaseExpression
    unit: cst.CSTNode  # the statement that sets it (the constructor's or a mutation)
    node: cst.CSTNode


@dataclass(eq=False)  # identity: set-ups refer to each other (alternatives, siblings)
class Setup:
    config: cst.Call | None
    config_unit: cst.CSTNode | None  # the `cfg = ConfigProto(...)` statement, when assigned
    gpu_options: list[tuple[cst.Call, cst.CSTNode | None]] = field(default_factory=list)
    fields: list[FieldSet] = field(default_factory=list)
    mutation_units: list[cst.CSTNode] = field(default_factory=list)
    sessions: list[cst.Call] = field(default_factory=list)
    session_units: list[cst.CSTNode] = field(default_factory=list)
    set_session_units: list[cst.CSTNode] = field(default_factory=list)
    set_session_calls: list[cst.Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    anchor: cst.CSTNode | None = None  # where the tf.config calls of inline configs go
    # A session whose config name has several bindings (``if``/``else``): each binding is
    # its own set-up; they and the session are converted or kept together.
    alternatives: list[Setup] = field(default_factory=list)
    siblings: list[Setup] = field(default_factory=list)  # on an alternative: the others of its session
    # Mutations that may set this binding or another one: (field, bindings it may see, problem).
    pending_shared: list[tuple[FieldSet, frozenset[int], str]] = field(default_factory=list)
    # A session factory's ``set_session(f(...))`` statements: the ``f(...)`` call each becomes.
    factory_calls: dict[cst.CSTNode, cst.Call] = field(default_factory=dict)
    factory: cst.FunctionDef | None = None
    factory_unsafe: str | None = None  # why converting the factory is only an unsafe fix
    config_return: cst.CSTNode | None = None  # a config factory's `return cfg`: removed with the config

    @property
    def bundle(self) -> str:
        """The key that ties this setup's config rewrite (TRM003) to its session removal (TRM004):
        the engine offers and applies them as one change."""
        return f"session-setup-{id(self)}"

    @property
    def bundle_size(self) -> int:
        """The config rewrite (when there is a config) and the session removal (when there is a
        session to remove)."""
        return (self.config is not None) + bool(self.sessions)

    @property
    def removable(self) -> bool:
        return not self.problems

    def single_threaded(self) -> bool:
        """intra = inter = 1: the Keras FAQ's way to get repeatable results."""
        values = {f.path: f.value for f in self.fields}
        wanted = [values.get(k) for k in ("intra_op_parallelism_threads", "inter_op_parallelism_threads")]
        return all(isinstance(v, cst.Integer) and v.value == "1" for v in wanted)


@dataclass
class SessionAnalysis:
    setups: list[Setup]
    stray_set_session: list[cst.Call]  # set_session(x) where x is not a session we can see


def analyse(ctx: Context) -> SessionAnalysis:
    cached = ctx.cache.get("sessions")
    if cached is None:
        cached = _Analyser(ctx).run()
        ctx.cache["sessions"] = cached
    return cached  # type: ignore[return-value]


def _single_name_assign(ctx: Context, call: cst.Call) -> tuple[cst.CSTNode, str] | None:
    """``name = call`` as a whole statement: (unit, name)."""
    unit = ctx.unit_of(call)
    if (
        isinstance(unit, cst.Assign)
        and unit.value is call
        and len(unit.targets) == 1
        and isinstance(unit.targets[0].target, cst.Name)
    ):
        return unit, unit.targets[0].target.value
    return None


@dataclass
class _Uses:
    """The reads of one binding: ``own`` can only mean it; ``shared`` may also mean
    another binding of the same name (``x = a`` in one branch, ``x = b`` in the other)."""

    own: list[cst.Name]
    shared: list[cst.Name]


def _binding(ctx: Context, target: cst.Name) -> BaseAssignment | None:
    """The scope analysis' assignment made by the target name ``target``."""
    scope = ctx.scopes.get(target)
    if scope is None:
        return None
    for assignment in scope.assignments[target.value]:
        if getattr(assignment, "node", None) is target:
            return assignment
    return None


_SCOPE_NODES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def _position(ctx: Context, assignment: BaseAssignment) -> tuple[int, int]:
    node = _node_of(assignment)
    return ctx.sort_key(node) if node is not None else (0, 0)


def _overwrites(ctx: Context, assignment: BaseAssignment) -> cst.CSTNode | None:
    """The statement unit of a binding that always happens when its statement runs
    (``x = ...``, ``x: T = ...``, ``x += ...``, an import), else None."""
    node = _node_of(assignment)
    if node is None:
        return None
    if isinstance(node, (cst.Import, cst.ImportFrom)):
        return node
    parent = ctx.parents.get(node)
    if isinstance(parent, cst.AssignTarget):
        return ctx.parents.get(parent)
    if isinstance(parent, cst.AnnAssign) and parent.target is node and parent.value is not None:
        return parent
    if isinstance(parent, cst.AugAssign) and parent.target is node:
        return parent
    return None


def _live(ctx: Context, access: Access) -> list[BaseAssignment]:
    """The bindings a read may see, in source order.

    libcst's referents of a read are every binding of the name in its scope that comes
    before it in the source, whatever the flow. A binding statement that always runs
    before the read (in the read's block or an enclosing one of the same scope, earlier
    in it) overwrites every binding located before it, so those are left out: after
    ``cfg = ConfigProto()`` ... ``cfg = 1234``, a later read of ``cfg`` is the number."""
    referents = sorted(access.referents, key=lambda a: _position(ctx, a))
    if len(referents) < 2:
        return referents
    # The read's statement unit in each block that holds it, up to its scope's boundary.
    holders: dict[int, cst.CSTNode] = {}
    current: cst.CSTNode | None = access.node
    while current is not None and not isinstance(current, _SCOPE_NODES):
        parent = ctx.parents.get(current)
        if isinstance(parent, (cst.Module, cst.IndentedBlock, cst.SimpleStatementSuite, cst.SimpleStatementLine)):
            held = ctx.unit_of(current)
            holders.setdefault(id(ctx.block_of(held)), held)
        current = parent
    latest: BaseAssignment | None = None
    for assignment in referents:
        writer = _overwrites(ctx, assignment)
        if writer is None or ctx.parents.get(writer) is None:
            continue
        holder = holders.get(id(ctx.block_of(writer)))
        if holder is not None and ctx.sort_key(writer) < ctx.sort_key(holder):
            latest = assignment
    if latest is None:
        return referents
    return [a for a in referents if _position(ctx, a) >= _position(ctx, latest)]


def _uses(ctx: Context, unit: cst.CSTNode, name: str) -> _Uses | None:
    """The reads of the binding ``name = ...`` made by ``unit``, in source order.

    Uses belong to the binding they refer to, not to every binding of the name: libcst
    also lists under a module-level assignment a read inside a function that binds the
    same name itself, so each read is kept only when the binding is among the ones it
    may see (``_live``)."""
    target = unit.targets[0].target if isinstance(unit, cst.Assign) else None
    assignment = _binding(ctx, target) if isinstance(target, cst.Name) and target.value == name else None
    if assignment is None:
        return None
    own: list[cst.Name] = []
    shared: list[cst.Name] = []
    for access in assignment.references:
        if not isinstance(access.node, cst.Name):
            continue
        live = _live(ctx, access)
        if assignment in live:
            (own if len(live) == 1 else shared).append(access.node)
    own.sort(key=ctx.sort_key)
    shared.sort(key=ctx.sort_key)
    return _Uses(own, shared)


def _own_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes under ``node`` outside nested functions, classes and lambdas."""
    out: list[cst.CSTNode] = []
    stack = list(node.children)
    while stack:
        child = stack.pop()
        out.append(child)
        if not isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            stack.extend(child.children)
    return out


def _node_of(assignment: BaseAssignment) -> cst.CSTNode | None:
    """The node that makes a binding (builtins have none)."""
    node = getattr(assignment, "node", None)
    return node if isinstance(node, cst.CSTNode) else None


def _referents(ctx: Context, name: cst.Name) -> list[BaseAssignment] | None:
    """The bindings a read of ``name`` may refer to, in source order (None: not a read we know)."""
    scope = ctx.scopes.get(name)
    if scope is None:
        return None
    for access in scope.accesses[name.value]:
        if access.node is name:
            return _live(ctx, access)
    return None


def _assigned_call(ctx: Context, assignment: BaseAssignment, names: tuple[str, ...]) -> cst.Assign | None:
    """The ``name = <call to one of names>(...)`` statement that makes ``assignment``."""
    node = getattr(assignment, "node", None)
    target = ctx.parents.get(node) if node is not None else None
    stmt = ctx.parents.get(target) if isinstance(target, cst.AssignTarget) else None
    if (
        isinstance(stmt, cst.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.value, cst.Call)
        and ctx.matches(stmt.value.func, names)
    ):
        return stmt
    return None


def _declared_global(ctx: Context, unit: cst.CSTNode, name: str) -> bool:
    """``global name`` / ``nonlocal name`` in the function that holds ``unit``."""
    for func in ctx.enclosing(unit, (cst.FunctionDef,)):
        assert isinstance(func, cst.FunctionDef)
        for stmt in func.body.body if isinstance(func.body, cst.IndentedBlock) else []:
            for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else []:
                if isinstance(small, (cst.Global, cst.Nonlocal)) and any(n.name.value == name for n in small.names):
                    return True
        break
    return False


def _keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _branches(ctx: Context, node: cst.CSTNode) -> dict[int, str] | None:
    """The ``if`` statements around ``node`` in its scope, each with the side it is on
    ("body" / "orelse"); None when a loop is in between (a binding may then run again)."""
    sides: dict[int, str] = {}
    child, parent = node, ctx.parents.get(node)
    while parent is not None and not isinstance(parent, _SCOPE_NODES):
        if isinstance(parent, (cst.For, cst.While)):
            return None
        if isinstance(parent, cst.If):
            sides.setdefault(id(parent), "body" if child is parent.body else "orelse")
        child, parent = parent, ctx.parents.get(parent)
    return sides


def _exclusive(ctx: Context, assigns: list[cst.Assign]) -> bool:
    """At most one of the bindings runs: every two sit on different sides of one ``if``
    (``if``/``elif``/``else`` branches), none of them in a loop."""
    sides = [_branches(ctx, a) for a in assigns]
    if any(s is None for s in sides):
        return False
    for i, first in enumerate(sides):
        for second in sides[i + 1 :]:
            assert first is not None and second is not None
            if not any(k in second and second[k] != side for k, side in first.items()):
                return False
    return True


def _binding_id(setup: Setup) -> int | None:
    unit = setup.config_unit
    if isinstance(unit, cst.Assign) and isinstance(unit.targets[0].target, cst.Name):
        return id(unit.targets[0].target)
    return None


def _resolve_shared(groups: list[Setup], setups: list[Setup]) -> None:
    """A mutation after ``if``/``else`` bindings of one session's config belongs to that
    session's group: it goes (once) to its first alternative. Any other such mutation is a
    problem of every binding it may set."""
    for group in groups:
        ids = {_binding_id(a) for a in group.alternatives}
        first = group.alternatives[0]
        taken: set[int] = set()
        for alternative in group.alternatives:
            for found, bindings, _ in alternative.pending_shared:
                if bindings <= ids and id(found.node) not in taken:
                    taken.add(id(found.node))
                    first.fields.append(found)
                    first.mutation_units.append(found.unit)
            alternative.pending_shared = [p for p in alternative.pending_shared if id(p[0].node) not in taken]
    for setup in setups:
        for _, _, problem in setup.pending_shared:
            if problem not in setup.problems:
                setup.problems.append(problem)
        setup.pending_shared = []


def _share_problems(sessions: list[Setup]) -> None:
    """A session and the alternative configs it may get are kept if any of them is: give
    every member of each connected group the problems of all (in a stable order)."""
    changed = True
    while changed:
        changed = False
        for session in sessions:
            members = [session, *session.alternatives]
            union = list(dict.fromkeys(p for m in members for p in m.problems))
            for member in members:
                if member.problems != union and set(member.problems) != set(union):
                    member.problems = union[:]
                    changed = True


class _Analyser:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.get_session_used = bool(ctx.calls_to(GET_SESSION))
        self._alternatives: list[Setup] = []  # set by _config_setup for the session at hand
        # Set by _factory for a session returned by a factory: (function, unsafe reason), and
        # each set_session statement with the factory call it becomes.
        self._factories: dict[int, tuple[cst.FunctionDef, str | None]] = {}
        self._factory_calls: dict[int, dict[cst.CSTNode, cst.Call]] = {}
        self._config_call: cst.Call | None = None  # set by _config_setup: the `g()` of a config factory

    def run(self) -> SessionAnalysis:
        ctx = self.ctx
        setups: list[Setup] = []
        by_config: dict[cst.CSTNode, Setup] = {}
        handled_set_session: set[cst.Call] = set()
        for session in ctx.calls_to(SESSIONS):
            setup_problems: list[str] = []
            session_unit, set_units, set_calls = self._session_uses(session, setup_problems)
            factory = self._factories.pop(id(session), None)
            handled_set_session.update(set_calls)
            config_expr = _keyword(session, "config")
            for arg in session.args:
                if arg.keyword is None or arg.star:
                    setup_problems.append("the session is built with positional or ** arguments")
                    break
                if arg.keyword.value not in ("config", "graph"):
                    setup_problems.append(f"the session sets `{arg.keyword.value}=`")
            graph = _keyword(session, "graph")
            if graph is not None and not (
                isinstance(graph, cst.Call) and ctx.matches(graph.func, DEFAULT_GRAPH)
            ):
                setup_problems.append("the session runs an explicit graph")
            setup = self._config_setup(config_expr, by_config, setup_problems)
            alternatives, self._alternatives = self._alternatives, []
            config_call, self._config_call = self._config_call, None
            if setup is not None and config_call is not None:
                # sess = tf.Session(config=g()) -> g(): the config factory now applies the options.
                removed = session_unit if session_unit is not None else (set_units[0] if set_units else None)
                if removed is not None:
                    setup.factory_calls[removed] = config_call
                else:
                    setup_problems.append("the session is used in place (with-block, return or expression)")
            if setup is None:
                setup = Setup(config=None, config_unit=None, alternatives=alternatives)
                setups.append(setup)
            elif setup not in setups:
                setups.append(setup)
            for other in alternatives:
                if all(other is not s for s in setups):
                    setups.append(other)
            setup.sessions.append(session)
            if session_unit is not None:
                setup.session_units.append(session_unit)
            setup.set_session_units.extend(set_units)
            setup.set_session_calls.extend(set_calls)
            if factory is not None:
                setup.factory, setup.factory_unsafe = factory
                setup.factory_calls.update(self._factory_calls.pop(id(session), {}))
            setup.problems.extend(p for p in setup_problems if p not in setup.problems)
            if setup.anchor is None:
                setup.anchor = session_unit if session_unit is not None else (set_units[0] if set_units else None)
        grouped = [s for s in setups if s.alternatives]
        _resolve_shared(grouped, setups)
        _share_problems(grouped)
        for group in grouped:
            for other in group.alternatives:
                other.siblings.extend(s for s in group.alternatives if s is not other and s not in other.siblings)
        # ConfigProto objects never handed to a session we could see.
        for config in ctx.calls_to(CONFIG_PROTO):
            if any(s.config is config for s in setups):
                continue
            if config in by_config:  # one of several bindings a session may get
                setups.append(by_config[config])
                continue
            problems: list[str] = [NO_SESSION]
            setup = self._config_setup(config, by_config, problems) or Setup(config=config, config_unit=None)
            setup.problems.extend(p for p in problems if p not in setup.problems)
            if setup not in setups:
                setups.append(setup)
        _resolve_shared([], setups)
        stray = [c for c in ctx.calls_to(SET_SESSION) if c not in handled_set_session]
        return SessionAnalysis(setups, stray)

    # -- sessions ------------------------------------------------------------------------------

    def _session_uses(
        self, session: cst.Call, problems: list[str]
    ) -> tuple[cst.CSTNode | None, list[cst.CSTNode], list[cst.Call]]:
        """(the session's own statement if separate, set_session statements, set_session calls)."""
        ctx = self.ctx
        if self.get_session_used:
            problems.append("the file reads the session back with get_session()")
        parent = ctx.parents.get(session)
        if isinstance(parent, cst.Arg):
            outer = ctx.parents.get(parent)
            if isinstance(outer, cst.Call) and ctx.matches(outer.func, SET_SESSION) and self._is_statement(outer):
                return None, [ctx.unit_of(outer)], [outer]
            problems.append("the session is passed on as an argument")
            return None, [], []
        unit = ctx.unit_of(session)
        if isinstance(unit, cst.Expr) and unit.value is session:
            return unit, [], []  # e.g. a bare InteractiveSession(config=...) workaround
        if isinstance(unit, cst.Return) and unit.value is session:
            found = self._factory(session, unit, problems)
            if found is not None:
                return unit, *found
        assigned = _single_name_assign(ctx, session)
        if assigned is None:
            problems.append("the session is used in place (with-block, return or expression)")
            return unit, [], []
        unit, name = assigned
        if _declared_global(ctx, unit, name):
            problems.append(f"`{name}` is a global or nonlocal name other code may read")
            return unit, [], []
        uses = _uses(ctx, unit, name)
        if uses is None:
            problems.append(f"`{name}` is not a binding the analysis can follow")
            return unit, [], []
        for ref in uses.shared:
            line = ctx.positions[ref].start.line
            problems.append(f"`{name}` is bound more than once and line {line} may use either binding")
        set_units: list[cst.CSTNode] = []
        set_calls: list[cst.Call] = []
        for ref in uses.own:
            call = self._set_session_statement(ref)
            if call is not None:
                set_units.append(ctx.unit_of(call))
                set_calls.append(call)
            else:
                line = ctx.positions[ref].start.line
                problems.append(f"`{name}` is used after set-up (line {line})")
        return unit, set_units, set_calls

    def _set_session_statement(self, node: cst.CSTNode) -> cst.Call | None:
        """The ``set_session(node)`` call, when ``node`` is its only argument and the call is a
        whole statement."""
        ctx = self.ctx
        arg = ctx.parents.get(node)
        call = ctx.parents.get(arg) if isinstance(arg, cst.Arg) else None
        if (
            isinstance(call, cst.Call)
            and len(call.args) == 1
            and ctx.matches(call.func, SET_SESSION)
            and self._is_statement(call)
        ):
            return call
        return None

    def _factory(
        self, session: cst.Call, unit: cst.Return, problems: list[str]
    ) -> tuple[list[cst.CSTNode], list[cst.Call]] | None:
        """``return tf.Session(...)`` as the last statement of a session factory: its
        ``set_session(f(...))`` statements and calls (None: not a factory we can follow, the
        caller reports the session as used in place)."""
        ctx = self.ctx
        found = self._returning_function(unit)
        if found is None:
            return None
        factory, bindings = found
        name = factory.name.value
        set_units: list[cst.CSTNode] = []
        set_calls: list[cst.Call] = []
        calls: dict[cst.CSTNode, cst.Call] = {}
        unsafe: str | None = None
        if not name.startswith("_"):
            unsafe = (f"`{name}` is public: other files may call it and use the session it returns "
                      "(a single-file run cannot see them)")
        for access in sorted(bindings[0].references, key=lambda a: ctx.sort_key(a.node)):
            ref = access.node
            line = ctx.positions[ref].start.line
            call = ctx.parents.get(ref)
            if not isinstance(call, cst.Call) or call.func is not ref:
                unsafe = unsafe or f"`{name}` is used other than as a call (line {line}), maybe for its session"
                continue
            outer = self._set_session_statement(call)
            if outer is not None:
                set_units.append(ctx.unit_of(outer))
                set_calls.append(outer)
                calls[ctx.unit_of(outer)] = call
            elif not self._is_statement(call):
                problems.append(f"the session `{name}()` returns is used after set-up (line {line})")
        self._factories[id(session)] = (factory, unsafe)
        self._factory_calls[id(session)] = calls
        return set_units, set_calls

    def _returning_function(self, unit: cst.Return) -> tuple[cst.FunctionDef, list[BaseAssignment]] | None:
        """The module-level function whose last statement (and only return) is ``unit``, with
        the one binding of its name; None for any other shape (decorated, async, a method, ...)."""
        ctx = self.ctx
        func = next(ctx.enclosing(unit, (cst.FunctionDef, cst.ClassDef, cst.Lambda)), None)
        if (
            not isinstance(func, cst.FunctionDef)
            or not isinstance(ctx.parents.get(func), cst.Module)
            or func.decorators  # a decorator may use the returned value
            or func.asynchronous
            or not isinstance(func.body, cst.IndentedBlock)
            or ctx.block_of(unit) is not func.body
            or ctx.block_units(func.body)[-1] is not unit  # code after it is dead today
            or any(n is not unit for n in _own_nodes(func.body) if isinstance(n, (cst.Return, cst.Yield)))
        ):
            return None
        assert isinstance(func, cst.FunctionDef)  # narrowed by the test above
        scope = ctx.scopes.get(func)
        bindings = list(scope.assignments[func.name.value]) if scope is not None else []
        if len(bindings) != 1 or getattr(bindings[0], "node", None) is not func:
            return None
        return cast(cst.FunctionDef, func), bindings

    def _config_factory(self, call: cst.Call) -> tuple[cst.Call, cst.CSTNode, str | None, cst.Return, str | None] | None:
        """``g()`` where ``g`` returns a ``ConfigProto`` it builds (``return tf.ConfigProto(...)``
        or ``cfg = tf.ConfigProto(...)`` ... ``return cfg``) and every call of ``g`` in the file is
        the ``config=`` of a session: (config, its unit, its name, the return, unsafe reason)."""
        ctx = self.ctx
        if not isinstance(call.func, cst.Name):
            return None
        referents = _referents(ctx, call.func) or []
        func = _node_of(referents[0]) if len(referents) == 1 else None
        if not isinstance(func, cst.FunctionDef) or not isinstance(func.body, cst.IndentedBlock):
            return None
        last = ctx.block_units(func.body)[-1] if func.body.body else None
        if not isinstance(last, cst.Return) or self._returning_function(last) is None:
            return None
        value = last.value
        config: cst.Call | None = None
        config_unit: cst.CSTNode | None = None
        name: str | None = None
        if isinstance(value, cst.Call) and ctx.matches(value.func, CONFIG_PROTO):
            config, config_unit = value, last  # its tf.config calls replace the return
        elif isinstance(value, cst.Name):
            seen = _referents(ctx, value) or []
            assign = _assigned_call(ctx, seen[0], CONFIG_PROTO) if len(seen) == 1 else None
            if assign is not None and self.ctx.block_of(assign) is func.body:
                config, config_unit, name = assign.value, assign, value.value  # type: ignore[assignment]
        if config is None or config_unit is None:
            return None
        for access in referents[0].references:
            ref = access.node
            parent = ctx.parents.get(ref)
            arg = ctx.parents.get(parent) if isinstance(parent, cst.Call) and parent.func is ref else None
            outer = ctx.parents.get(arg) if isinstance(arg, cst.Arg) else None
            if not (
                isinstance(arg, cst.Arg) and arg.keyword is not None and arg.keyword.value == "config"
                and isinstance(outer, cst.Call) and ctx.matches(outer.func, SESSIONS)
            ):
                return None
        unsafe = None
        if not func.name.value.startswith("_"):
            unsafe = (f"`{func.name.value}` is public: other files may call it and use the config it returns "
                      "(a single-file run cannot see them)")
        return config, config_unit, name, last, unsafe

    def _is_statement(self, call: cst.Call) -> bool:
        unit = self.ctx.unit_of(call)
        return isinstance(unit, cst.Expr) and unit.value is call

    # -- configs -------------------------------------------------------------------------------

    def _config_setup(
        self, expr: cst.BaseExpression | None, by_config: dict[cst.CSTNode, Setup], problems: list[str]
    ) -> Setup | None:
        ctx = self.ctx
        if expr is None:
            return None
        config: cst.Call | None = None
        config_unit: cst.CSTNode | None = None
        name: str | None = None
        if isinstance(expr, cst.Call) and ctx.matches(expr.func, CONFIG_PROTO):
            config = expr
            assigned = _single_name_assign(ctx, expr)
            if assigned is not None:
                config_unit, name = assigned
        elif isinstance(expr, cst.Name):
            referents = _referents(ctx, expr) or []
            assigns = [a for a in (_assigned_call(ctx, r, CONFIG_PROTO) for r in referents) if a is not None]
            if len(referents) == 1 and assigns:
                config, config_unit, name = assigns[0].value, assigns[0], expr.value  # type: ignore[assignment]
            elif len(referents) > 1 and len(assigns) == len(referents) and _exclusive(ctx, assigns):
                # Each binding is its own set-up (converted where it is built); the session
                # and they are converted or kept together (_share_problems).
                for assign in assigns:
                    other = self._config_setup(assign.value, by_config, [])
                    if other is not None:
                        self._alternatives.append(other)
                return None
            elif len(referents) > 1:
                # Not every binding is a config we can see: none of them can be dropped for
                # a session that may get either.
                lines = ", ".join(str(ctx.positions[node].start.line) for r in referents
                                  if (node := _node_of(r)) is not None)
                problem = f"`{expr.value}` may be any of its bindings (lines {lines}) where the session uses it"
                problems.append(problem)
                for assign in assigns:
                    other = self._config_setup(assign.value, by_config, [])
                    if other is not None and problem not in other.problems:
                        other.problems.insert(0, problem)
                return None
        returned: cst.Return | None = None
        unsafe: str | None = None
        if config is None and isinstance(expr, cst.Call):
            made = self._config_factory(expr)
            if made is not None:
                config, config_unit, name, returned, unsafe = made
                self._config_call = expr
        if config is None:
            problems.append("the config comes from elsewhere")
            return None
        if config in by_config:
            return by_config[config]
        setup = Setup(config=config, config_unit=config_unit)
        by_config[config] = setup
        if returned is not None:
            setup.config_return = returned if returned is not config_unit else None
            setup.factory_unsafe = unsafe
        self._constructor_fields(config, "", config_unit or ctx.unit_of(config), setup)
        if name is not None and config_unit is not None:
            self._mutations(config_unit, name, "", setup, passes_as="config", returned=returned)
        return setup

    def _passed_as(self, ref: cst.Name, keyword: str) -> bool:
        """``ref`` is the ``config=`` of a session (or the ``gpu_options=`` of a config)."""
        parent = self.ctx.parents.get(ref)
        if isinstance(parent, cst.Arg) and parent.keyword is not None and parent.keyword.value == keyword:
            call = self.ctx.parents.get(parent)
            return isinstance(call, cst.Call) and self.ctx.matches(call.func, SESSIONS + CONFIG_PROTO)
        return False

    def _constructor_fields(self, call: cst.Call, prefix: str, unit: cst.CSTNode, setup: Setup) -> None:
        ctx = self.ctx
        for arg in call.args:
            if arg.keyword is None or arg.star:
                setup.problems.append(f"`{ctx.code(call.func)}` takes positional or ** arguments here")
                continue
            key = arg.keyword.value
            value = arg.value
            if prefix == "" and key == "gpu_options":
                self._gpu_options(value, setup)
                continue
            setup.fields.append(FieldSet(prefix + key, value, unit, arg))

    def _gpu_options(self, value: cst.BaseExpression, setup: Setup) -> None:
        ctx = self.ctx
        if isinstance(value, cst.Call) and ctx.matches(value.func, GPU_OPTIONS):
            setup.gpu_options.append((value, None))
            self._constructor_fields(value, "gpu_options.", setup.config_unit or ctx.unit_of(value), setup)
            return
        if isinstance(value, cst.Name):
            referents = _referents(ctx, value) or []
            stmt = _assigned_call(ctx, referents[0], GPU_OPTIONS) if len(referents) == 1 else None
            if stmt is not None:
                assert isinstance(stmt.value, cst.Call)
                setup.gpu_options.append((stmt.value, stmt))
                self._constructor_fields(stmt.value, "gpu_options.", stmt, setup)
                self._mutations(stmt, value.value, "gpu_options.", setup, passes_as="gpu_options")
                return
        setup.problems.append("the GPU options come from elsewhere")

    def _mutations(self, unit: cst.CSTNode, name: str, prefix: str, setup: Setup, passes_as: str,
                   returned: cst.Return | None = None) -> None:
        """Record ``name.a.b = v`` statements; any other use of ``name`` is a problem."""
        ctx = self.ctx
        uses = _uses(ctx, unit, name)
        if uses is None:
            setup.problems.append(f"`{name}` is not a binding the analysis can follow")
            return
        for ref in uses.shared:
            if self._passed_as(ref, passes_as):
                continue  # the session that takes one of the alternatives
            line = ctx.positions[ref].start.line
            problem = f"`{name}` is bound more than once and line {line} may use either binding"
            found = self._mutation_field(ref, prefix)
            seen = _referents(ctx, ref) or []
            if found is not None and passes_as == "config":
                # After `if`/`else` bindings: it sets whichever one ran. _resolve_shared gives
                # it to the group when every binding it may see is an alternative of one session.
                bindings = frozenset(id(n) for a in seen if (n := _node_of(a)) is not None)
                setup.pending_shared.append((found, bindings, problem))
            else:
                setup.problems.append(problem)
        for ref in uses.own:
            if self._passed_as(ref, passes_as) or (returned is not None and returned.value is ref):
                continue  # the session's config, or a config factory's `return cfg`
            found = self._mutation_field(ref, prefix)
            if found is not None:
                setup.fields.append(found)
                setup.mutation_units.append(found.unit)
                continue
            line = ctx.positions[ref].start.line
            setup.problems.append(f"`{name}` is used outside the session set-up (line {line})")

    def _mutation_field(self, ref: cst.Name, prefix: str) -> FieldSet | None:
        """``ref.a.b = v`` or ``ref.a[k] = v`` as a statement: the field it sets."""
        ctx = self.ctx
        parent = ctx.parents.get(ref)
        path: list[str] = []
        node: cst.CSTNode = ref
        while isinstance(parent, cst.Attribute) and parent.value is node:
            path.append(parent.attr.value)
            node, parent = parent, ctx.parents.get(parent)
        if path and isinstance(parent, cst.AssignTarget):
            assign = ctx.parents.get(parent)
            if isinstance(assign, cst.Assign) and len(assign.targets) == 1:
                return FieldSet(prefix + ".".join(path), assign.value, ctx.unit_of(assign), assign)
        if path and isinstance(parent, cst.SubscriptElement | cst.Subscript):
            return FieldSet(prefix + ".".join(path) + "[]", ref, ctx.unit_of(ref), ref)
        return None
