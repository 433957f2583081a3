"""TRM011 tf1-setup-calls: report TF1-only calls of the set-up block, with their TF2 spelling.

They sit next to the seeds and sessions this tool migrates and crash on TF2 with an
``AttributeError`` (Keras 3: no ``keras.backend.tensorflow_backend``), so after the
migration the set-up block would still fail. Each is reported (manual) with what to
write instead; nothing is rewritten, because the TF2 forms differ in shape (a logger
object, device objects instead of name strings).

* ``tf.logging.set_verbosity(tf.logging.INFO)`` -> ``tf.get_logger().setLevel('INFO')``
  (TF2's logger is a ``logging.Logger``), or ``tf.compat.v1.logging.set_verbosity(...)``;
  other ``tf.logging.*`` calls -> ``tf.get_logger().info(...)`` etc.
* ``K.tensorflow_backend._get_available_gpus()`` ->
  ``[d.name for d in tf.config.list_logical_devices('GPU')]``.
* ``tf.reset_default_graph()`` -> ``tf.compat.v1.reset_default_graph()`` in graph code,
  ``keras.backend.clear_session()`` for Keras models.
* ``tf.enable_resource_variables()`` / ``tf.enable_v2_behavior()`` -> remove (TF2's default).

Docs: https://www.tensorflow.org/api_docs/python/tf/get_logger ,
https://www.tensorflow.org/api_docs/python/tf/config/list_logical_devices ,
https://www.tensorflow.org/guide/migrate/upgrade
"""

from __future__ import annotations

import libcst as cst

from tf_repro_migrate.analysis import version_gated
from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import Safety
from tf_repro_migrate.rules import Rule

_LOG_FUNCTIONS = ("debug", "info", "warn", "warning", "error", "fatal", "log", "vlog", "flush",
                  "log_every_n", "log_first_n", "log_if", "get_verbosity")
LOGGING_CALLS = tuple(f"tensorflow.logging.{f}" for f in _LOG_FUNCTIONS)
SET_VERBOSITY = ("tensorflow.logging.set_verbosity",)
AVAILABLE_GPUS = (
    "keras.backend.tensorflow_backend._get_available_gpus",
    "keras.backend._get_available_gpus",
    "tensorflow.keras.backend._get_available_gpus",
    "tensorflow.python.keras.backend._get_available_gpus",
)
RESET_DEFAULT_GRAPH = ("tensorflow.reset_default_graph",)
DEFAULT_BEHAVIOUR = ("tensorflow.enable_resource_variables", "tensorflow.enable_v2_behavior",
                     "tensorflow.enable_v2_tensorshape")
SETUP_CALLS = (*SET_VERBOSITY, *LOGGING_CALLS, *AVAILABLE_GPUS, *RESET_DEFAULT_GRAPH, *DEFAULT_BEHAVIOUR)

# Methods of the logging.Logger that tf.get_logger() returns.
_LOGGER_METHODS = ("debug", "info", "warning", "error", "critical", "log")
# tf.logging levels are the standard library's (tf_logging.INFO is logging.INFO).
_LEVELS = ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL")


class TF1SetupCalls(Rule):
    code = "TRM011"
    name = "tf1-setup-calls"
    summary = "report TF1-only set-up calls (tf.logging, _get_available_gpus, ...) with their TF2 spelling"
    safety = Safety.MANUAL
    order = 72
    # Not a bare "logging.": the standard library's logging is in most files of a tree.
    triggers = ("tf.logging", "tensorflow.logging", "tensorflow import logging", "_get_available_gpus",
                "reset_default_graph", "enable_resource_variables", "enable_v2_")

    def run(self, ctx: Context) -> None:
        for call in ctx.calls_to(SETUP_CALLS):
            if version_gated(ctx, call):
                continue
            message = self._message(ctx, call)
            if message is not None:
                ctx.report(call, self.code, message, Safety.MANUAL)

    def _message(self, ctx: Context, call: cst.Call) -> str | None:
        names = ctx.qualified_names(call.func)
        spelled = ctx.code(call.func)
        if names & set(SET_VERBOSITY):
            level = _level_name(ctx, call)
            arg = f"'{level}'" if level else "<level>"
            v1 = f"tf.compat.v1.logging.{level}" if level else "<level>"
            return (f"{spelled}() does not exist in TF2 (tf.logging is gone): write "
                    f"tf.get_logger().setLevel({arg}), or tf.compat.v1.logging.set_verbosity({v1})")
        logging_calls = sorted(names & set(LOGGING_CALLS))
        if logging_calls:
            method = logging_calls[0].rsplit(".", 1)[-1]  # the TF name, whatever the local alias
            logger = {"warn": "warning", "fatal": "critical"}.get(method, method)
            tf2 = f"tf.get_logger().{logger}(...), or " if logger in _LOGGER_METHODS else ""
            return (f"{spelled}() does not exist in TF2 (tf.logging is gone): write "
                    f"{tf2}tf.compat.v1.logging.{method}(...)")
        if names & set(AVAILABLE_GPUS):
            return (f"{spelled}() does not exist in Keras 3 / TF2: write "
                    "[d.name for d in tf.config.list_logical_devices('GPU')] (device names), "
                    "or tf.config.list_physical_devices('GPU')")
        if names & set(RESET_DEFAULT_GRAPH):
            return (f"{spelled}() does not exist in TF2: write tf.compat.v1.reset_default_graph() in graph code, "
                    "or keras.backend.clear_session() to drop Keras models and layers")
        if names & set(DEFAULT_BEHAVIOUR):
            return f"{spelled}() does not exist in TF2, where it is the default behaviour: remove the call"
        return None


def _level_name(ctx: Context, call: cst.Call) -> str | None:
    """``INFO`` for ``tf.logging.INFO`` / ``logging.INFO`` / ``20``-free spellings; None otherwise."""
    if len(call.args) != 1:
        return None
    value = call.args[0].value
    if isinstance(value, cst.Attribute) and value.attr.value in _LEVELS:
        return value.attr.value
    return None
