"""TRM004 session-removal: drop ``tf.Session`` + ``K.set_session`` when Keras was their only user.

TF2 runs eagerly and Keras 3 has no ``set_session``: the session existed only to
carry a ``ConfigProto`` (whose fields TRM003 turns into ``tf.config`` calls). So the
session statement and the ``set_session`` call are removed, but only when
``set_session`` (or nothing) is the session's only use. A session that is used
afterwards (``sess.run``, passed to a constructor, returned, ``with sess.as_default()``,
read back through ``K.get_session()``) belongs to graph-mode code: it is reported as
manual ("graph-mode code: needs a full TF2 port") and kept, with TF1-only names renamed
to ``tf.compat.v1`` so it still runs on TF2. A ``set_session(x)`` whose session we
cannot see (``set_session(make_sess())``) is reported too, naming the function that builds it
and the change to make.

A *session factory* (``def _make_session(): ... return tf.Session(config=cfg)``, called only as
``set_session(_make_session())``) loses its ``return`` (TRM003 puts the ``tf.config`` calls in
its body) and each ``set_session(_make_session())`` becomes ``_make_session()``. A public
factory is converted only as an unsafe fix: other files may call it and use its session.

Docs: https://www.tensorflow.org/guide/migrate/tf1_vs_tf2 ,
https://keras.io/guides/migrating_to_keras_3/
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import compat_v1_fallback, version_gated
from tf_repro_migrate.context import Context, statement
from tf_repro_migrate.findings import Edit, ReplaceNode, ReplaceStatement, Safety
from tf_repro_migrate.rules import Rule
from tf_repro_migrate.rules.session_config import translate
from tf_repro_migrate.sessions import Setup, analyse

_LEGACY_SESSIONS = {"tensorflow.Session": "Session", "tensorflow.InteractiveSession": "InteractiveSession"}


def _drops_fields(ctx: Context, setup: Setup) -> bool:
    """Some field of the session's config (or of one of the configs it may get) has no TF2 form."""
    fields = [f for s in (setup, *setup.alternatives) for f in s.fields]
    return any(translate(f, ctx, "tf", "gpu")[0] is None for f in fields)


def _source_of(ctx: Context, func: cst.BaseExpression) -> str | None:
    """Where the function ``func`` names comes from: "defined at line N" or "imported from M"."""
    if not isinstance(func, cst.Name):
        names = sorted(ctx.qualified_names(func))
        return f"from {names[0].rsplit('.', 1)[0]}" if names and "." in names[0] else None
    scope = ctx.scopes.get(func)
    if scope is None or func.value not in scope:
        return None
    for assignment in scope[func.value]:
        node = getattr(assignment, "node", None)
        if isinstance(node, cst.FunctionDef):
            return f"defined at line {ctx.positions[node].start.line}"
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            names = sorted(ctx.qualified_names(func))
            if names and "." in names[0]:
                return f"imported from {names[0].rsplit('.', 1)[0]}"
    return None


def _stray_message(ctx: Context, call: cst.Call) -> str:
    """What to do with a ``set_session(x)`` TRM004 cannot remove."""
    base = "set_session() does not exist in Keras 3; this call is kept because its session is built "
    arg = call.args[0].value if len(call.args) == 1 else None
    if isinstance(arg, cst.Call):
        where = _source_of(ctx, arg.func)
        if where is not None:
            name = ctx.code(arg.func)
            return (base + f"by `{name}` ({where}) or used by other code: make `{name}` apply its ConfigProto "
                    f"options with tf.config calls instead of returning a session, and replace this line with "
                    f"`{ctx.code(arg)}`; code that uses the session needs a full TF2 port")
    return base + ("elsewhere or used by other code: port it by hand (move the ConfigProto options to tf.config "
                   "calls)")


class SessionRemoval(Rule):
    code = "TRM004"
    name = "session-removal"
    summary = "remove a tf.Session whose only use is K.set_session; report graph-mode sessions"
    safety = Safety.SAFE
    order = 31
    triggers = ("Session", "set_session")

    def run(self, ctx: Context) -> None:
        analysis = analyse(ctx)
        for setup in analysis.setups:
            sessions = [s for s in setup.sessions if s not in ctx.claimed and not version_gated(ctx, s)]
            if not sessions:
                continue
            if setup.removable:
                self._remove(ctx, setup, sessions[0])
            else:
                self._keep(ctx, setup, sessions)
        for call in analysis.stray_set_session:
            if call in ctx.claimed or version_gated(ctx, call):
                continue
            ctx.report(call, self.code, _stray_message(ctx, call), Safety.MANUAL)

    def _remove(self, ctx: Context, setup: Setup, first: cst.Call) -> None:
        units = [*setup.session_units, *setup.set_session_units]
        edits: list[Edit] = []
        for unit in dict.fromkeys(units):
            kept = setup.factory_calls.get(unit)
            # set_session(make()) -> make(): the factory now applies the options itself.
            edits.append(ReplaceStatement(unit, [statement(ctx.code(kept), ctx.module)] if kept else []))
        safety = Safety.UNSAFE if _drops_fields(ctx, setup) or setup.factory_unsafe else Safety.SAFE
        what = "session and set_session() removed" if setup.set_session_units else "unused session removed"
        if setup.factory is not None:
            name = setup.factory.name.value
            what = f"session factory `{name}` returns no session now; set_session({name}(...)) -> {name}(...)"
        message = f"{what}: TF2 runs eagerly, Keras 3 has no set_session"
        if setup.factory is None and setup.factory_calls:
            kept = next(iter(setup.factory_calls.values()))
            message += f"; `{ctx.code(kept.func)}(...)`, which built its config, stays as a call: it applies the options now"
        if _drops_fields(ctx, setup):
            message += " (its config has options with no TF2 form, see TRM003)"
        if setup.factory_unsafe:
            message += f"; unsafe: {setup.factory_unsafe}"
        ctx.report(first, self.code, message, safety, edits, claim=setup.sessions + setup.set_session_calls,
                   bundle=setup.bundle,
                   bundle_size=setup.bundle_size)

    def _keep(self, ctx: Context, setup: Setup, sessions: list[cst.Call]) -> None:
        reason = setup.problems[0]
        if setup.factory is not None:  # set_session(make()) stays: it crashes on Keras 3
            for call in setup.set_session_calls:
                if call not in ctx.claimed and not version_gated(ctx, call):
                    ctx.report(call, self.code, _stray_message(ctx, call), Safety.MANUAL)
        ctx.report(
            sessions[0],
            self.code,
            f"graph-mode code: needs a full TF2 port ({reason}); the session is kept",
            Safety.MANUAL,
        )
        edits: list[Edit] = []
        for session in sessions:
            names = ctx.qualified_names(session.func)
            legacy = names & set(_LEGACY_SESSIONS)
            if legacy and not compat_v1_fallback(names):
                tf = ctx.tf_name(session, edits)
                name = _LEGACY_SESSIONS[min(legacy)]  # a set: min() keeps the output stable
                edits.append(ReplaceNode(session.func, cst.parse_expression(f"{tf}.compat.v1.{name}")))
        if edits:
            ctx.report(
                sessions[0],
                self.code,
                "tf.Session does not exist in TF2: renamed to tf.compat.v1 to keep the graph-mode code running",
                Safety.SAFE,
                edits,
            )
        ctx.claimed.update(setup.sessions)
