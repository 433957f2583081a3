"""In-process capture harness for ``tf-repro-migrate verify``.

This module runs INSIDE the child process that executes the user's script::

    python -m tf_repro_migrate.verify.harness --result OUT.json \
        [--max-steps N] [--seed-offset K] [--trace] [--probe-step N] SCRIPT [ARGS...]

It must not import TensorFlow or Keras itself before the script does: a script
may set ``TF_ENABLE_ONEDNN_OPTS`` or ``KERAS_BACKEND`` in ``os.environ`` before
its own imports, and importing them early would silently change what is being
verified.  Instead, post-import hooks patch Keras and TensorFlow the moment the
script imports them:

* ``keras.Model.fit`` (which is also ``tf.keras.Model.fit``) is wrapped, the
  way autologging libraries do, to add a recording callback and to digest the
  model's and optimizer's variables after ``fit`` returns;
* ``BaseOptimizer.apply`` (reached by ``apply_gradients``) is wrapped so custom
  ``GradientTape`` loops and ``train_on_batch`` are captured: the variables an
  optimizer updates outside ``fit`` are digested when the script ends, and in
  eager mode each step's gradients are digested too;
* the global seed setters (``random.seed``, ``numpy.random.seed``,
  ``numpy.random.default_rng`` and TensorFlow's eager global seed, which
  ``tf.random.set_seed`` and ``keras.utils.set_random_seed`` both end in) are
  wrapped to record the seeds the script sets and, for the ``--control`` run,
  to shift them by an offset.  Keras' own global ``SeedGenerator`` is seeded
  from Python's ``random`` module, so it follows the shifted seed.

Every ``fit`` also records the digests of the model's weights when training
begins (cheap: once per ``fit``), so runs whose initial weights differ are
told apart from runs that split later.  Two diagnostic modes, used only for
re-runs once runs have differed, record more:

* ``--trace``: the digest of every training batch's inputs and targets (a
  sequential ``tf.py_function`` tap at the end of the ``tf.data`` pipeline
  Keras builds for ``fit``) and of all model weights before every batch;
* ``--probe-step N``: at global training step N, recompute that step eagerly
  from the same batch and the weights it started from, layer by layer, and
  record the digest of each layer's output, of the gradient reaching it and
  of its weights' gradients; then stop training.

The results are written as JSON to the ``--result`` file, whatever way the
script ends (normal end, ``sys.exit``, exception).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import platform
import runpy
import sys
import threading
import time
import traceback
from types import ModuleType
from typing import Any, Callable

SCHEMA_VERSION = 1

# Variables up to this many elements are stored in full (base64 of their
# bytes) so the parent can compute the largest absolute difference and
# np.allclose; larger ones are stored as a digest plus min/max/sum only.
MAX_STORED_ELEMENTS = 100_000
# ... and at most this many elements in total per run, so a large model does
# not produce a result file of hundreds of megabytes.
MAX_STORED_TOTAL_ELEMENTS = 5_000_000

# Per-step gradient digests in eager custom loops are skipped above this many
# gradient elements per step, to keep the harness overhead small.
MAX_STEP_DIGEST_ELEMENTS = 4_000_000

# Environment variables that change numerics or determinism; recorded in the
# fingerprint as the child (after the script ran) saw them.
FINGERPRINT_ENV_VARS = (
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    "TF_XLA_FLAGS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "KERAS_BACKEND",
    "PYTHONHASHSEED",
)


# ---------------------------------------------------------------------------
# Recorded state
# ---------------------------------------------------------------------------


class _State:
    """Everything the harness records while the script runs."""

    def __init__(self, max_steps: int | None, seed_offset: int, trace: bool = False,
                 probe_step: int | None = None) -> None:
        self.max_steps = max_steps
        self.seed_offset = seed_offset
        self.trace = trace or probe_step is not None
        self.probe_step = probe_step
        self.probe_capture = 0  # index of the fit() the probe step belongs to
        # The fit() record the input tap of the next data adapter belongs to.
        self.tap_record: dict[str, Any] | None = None
        # Absolute paths of files the script opened for reading / writing.
        self.files_read: list[str] = []
        self.files_written: list[str] = []
        self.started = time.time()
        self.captures: list[dict[str, Any]] = []
        self.seed_calls: list[dict[str, Any]] = []
        # Optimizers stepped outside fit(), in first-use order.  Strong
        # references on purpose: their variables must still be alive when the
        # script has ended (runpy drops the script's globals on SystemExit).
        self.loop_optimizers: list[Any] = []
        self.loop_records: dict[int, dict[str, Any]] = {}
        self.local = threading.local()
        self.patched: list[str] = []
        self.stored_elements = 0
        # fit()/train_on_batch() calls active in ANY thread: under
        # tf.distribute.MirroredStrategy the optimizer step runs in a replica
        # thread, where the thread-local depth is 0, and would otherwise be
        # counted a second time as a custom loop.
        self.fit_active = 0
        self.fit_lock = threading.Lock()
        # Optimizer base classes of every Keras flavour the script imported
        # (Keras 3, tf_keras, tf_keras legacy): used to find optimizers kept
        # as model attributes (GAN d_optimizer / g_optimizer).
        self.optimizer_classes: list[type] = []
        # train_on_batch() captures by model, and the models themselves
        # (strong references, digested when the script ends).
        self.tob_records: dict[int, dict[str, Any]] = {}
        self.tob_models: list[Any] = []
        # Processes the script started (verify does not follow them).
        self.subprocesses: list[dict[str, Any]] = []
        self.recording_subprocesses = True
        # evaluate()/predict() results (--compare-outputs).
        self.capture_outputs = False
        self.outputs: list[dict[str, Any]] = []
        self.stopped_by_max_steps: str | None = None


class _MaxStepsReached(BaseException):
    """Raised to end the script cleanly after --max-steps optimizer steps
    outside fit().  A BaseException so a script's ``except Exception`` does
    not swallow it."""


STATE: _State | None = None


def _depth(name: str) -> int:
    assert STATE is not None
    return getattr(STATE.local, name, 0)


def _set_depth(name: str, value: int) -> None:
    assert STATE is not None
    setattr(STATE.local, name, value)


# ---------------------------------------------------------------------------
# Value encoding
# ---------------------------------------------------------------------------


def encode_scalar(value: Any) -> str:
    """Encode a logged value so that equal strings mean bit-identical values."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return float.hex(value)
    if isinstance(value, int):
        return repr(value)
    try:
        return float.hex(float(value))
    except (TypeError, ValueError):
        return repr(value)


def _to_numpy(variable: Any) -> Any:
    import numpy as np

    if hasattr(variable, "numpy"):
        return np.asarray(variable.numpy())
    return np.asarray(variable)


def _variable_name(variable: Any) -> str:
    for attr in ("path", "name"):
        value = getattr(variable, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(variable).__name__


def digest_variable(variable: Any) -> dict[str, Any]:
    """Digest one variable: name, dtype, shape, sha256 of its bytes, a summary
    and, for small numeric variables, the values themselves."""
    import numpy as np

    array = _to_numpy(variable)
    contiguous = np.ascontiguousarray(array)
    record: dict[str, Any] = {
        "name": _variable_name(variable),
        "dtype": str(array.dtype),
        "shape": list(array.shape),
        "sha256": hashlib.sha256(contiguous.tobytes()).hexdigest(),
        "summary": None,
        "values": None,
    }
    numeric = array.dtype.kind in "fiub" or array.dtype.name in ("bfloat16",)
    if numeric and array.size:
        if array.dtype.kind in "fc" or array.dtype.name == "bfloat16":
            # float16/bfloat16 -> float32 and float32 -> float64 are exact.
            wide = array.astype(np.float64)
            store = array.astype(np.float32) if array.dtype.itemsize < 4 else array
            if store.dtype.kind != "f":
                store = wide
        else:
            wide = array.astype(np.float64)
            store = array.astype(np.int64)
        record["summary"] = {
            "min": repr(float(np.min(wide))),
            "max": repr(float(np.max(wide))),
            "sum": repr(float(np.sum(wide))),
        }
        if array.size <= MAX_STORED_ELEMENTS and _take_storage_budget(array.size):
            record["values"] = {
                "dtype": str(store.dtype),
                "b64": base64.b64encode(np.ascontiguousarray(store).tobytes()).decode(),
            }
    return record


def _take_storage_budget(size: int) -> bool:
    if STATE is None:
        return True
    if STATE.stored_elements + size > MAX_STORED_TOTAL_ELEMENTS:
        return False
    STATE.stored_elements += size
    return True


def digest_variables(variables: Any) -> list[dict[str, Any]]:
    """Digest a list of variables in order (errors are recorded, not raised)."""
    out = []
    for variable in list(variables or []):
        try:
            out.append(digest_variable(variable))
        except Exception as exc:  # a capture problem must not kill the run
            out.append({"name": _variable_name(variable), "error": repr(exc)})
    return out


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


# ---------------------------------------------------------------------------
# fit() capture
# ---------------------------------------------------------------------------


def _make_recorder_callback(keras_callback_base: type, record: dict[str, Any]) -> Any:
    """Build the Keras callback that records every batch and epoch log."""
    assert STATE is not None
    max_steps = STATE.max_steps

    class _VerifyRecorder(keras_callback_base):  # type: ignore[misc, valid-type]
        # Not async_safe: logs must be recorded in order, and the stop for
        # --max-steps must happen right after batch N, not some batches later.
        def __init__(self) -> None:
            super().__init__()
            self._epoch = 0
            self._seen = 0

            self._global = 0
            self._probe_weights: Any = None

        def on_train_begin(self, logs: Any = None) -> None:
            # The model and optimizer are built by now: the weights training
            # starts from, digested (not stored) to tell a missing seed apart.
            record["initial_weights"] = _weight_digests(self.model)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._epoch = int(epoch)

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            self._begin = int(batch)
            assert STATE is not None
            if STATE.trace:
                record.setdefault("trace", {"inputs": [], "weights_before": []})
                record["trace"]["weights_before"].append(_combined_weight_digest(self.model))
            if (STATE.probe_step is not None and self._global == STATE.probe_step
                    and record.get("index") == STATE.probe_capture):
                self._probe_weights = self.model.get_weights()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            assert STATE is not None
            if self._probe_weights is not None:
                record["probe"] = _probe_step(self.model, self._probe_weights, record, self._global)
                self._probe_weights = None
                self.model.stop_training = True
            self._global += 1
            record["batches"].append(
                {
                    "epoch": self._epoch,
                    "batch": int(batch),
                    "logs": {k: encode_scalar(v) for k, v in sorted((logs or {}).items())},
                }
            )
            # With steps_per_execution > 1 one call covers several batches.
            self._seen += max(1, int(batch) - getattr(self, "_begin", int(batch)) + 1)
            if max_steps is not None and self._seen >= max_steps:
                # Stopping (instead of capping steps_per_epoch) keeps the run
                # an exact prefix of the uncapped one.
                self.model.stop_training = True
                record["truncated"] = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            record["epochs"].append(
                {
                    "epoch": int(epoch),
                    "logs": {k: encode_scalar(v) for k, v in sorted((logs or {}).items())},
                }
            )

    return _VerifyRecorder()


def _array_sha(value: Any) -> str:
    import numpy as np

    array = np.ascontiguousarray(_to_numpy(value))
    sha = hashlib.sha256(str(array.dtype).encode() + str(array.shape).encode())
    sha.update(array.tobytes())
    return sha.hexdigest()


def _weight_digests(model: Any) -> list[dict[str, str]]:
    """Name and sha256 of every model weight (no values: kept small)."""
    out = []
    for variable in list(getattr(model, "weights", []) or []):
        try:
            out.append({"name": _variable_name(variable), "sha256": _array_sha(variable)})
        except Exception as exc:  # a capture problem must not kill the run
            out.append({"name": _variable_name(variable), "sha256": f"error {exc!r}"})
    return out


def _combined_weight_digest(model: Any) -> str:
    sha = hashlib.sha256()
    for item in _weight_digests(model):
        sha.update(item["sha256"].encode())
    return sha.hexdigest()


def _on_data_adapters(module: ModuleType) -> None:
    """--trace: tap the batches Keras feeds to fit() (inputs and targets)."""
    original = module.get_data_adapter  # type: ignore[attr-defined]
    if getattr(original, "_tf_repro_verify", False):
        return

    def get_data_adapter(*args: Any, **kwargs: Any) -> Any:
        adapter = original(*args, **kwargs)
        assert STATE is not None
        record = STATE.tap_record
        if record is not None and _depth("fit") > 0:
            # Only the first adapter of a fit() is the training data (the
            # next ones are validation data).
            STATE.tap_record = None
            _tap_adapter(adapter, record)
        return adapter

    get_data_adapter._tf_repro_verify = True  # type: ignore[attr-defined]
    module.get_data_adapter = get_data_adapter  # type: ignore[attr-defined]
    if STATE is not None:
        STATE.patched.append("keras data adapter tap (--trace)")


def _on_data_adapters_module(module: ModuleType) -> None:
    # Only diagnostic re-runs pay for the tap.
    if STATE is not None and STATE.trace:
        _on_data_adapters(module)


def _tap_adapter(adapter: Any, record: dict[str, Any]) -> None:
    original = adapter.get_tf_dataset
    trace = record.setdefault("trace", {"inputs": [], "weights_before": []})
    assert STATE is not None
    probe_step = STATE.probe_step

    def get_tf_dataset() -> Any:
        import tensorflow as tf

        dataset = original()

        def tap(*element: Any) -> Any:
            structure = element[0] if len(element) == 1 else element
            flat = tf.nest.flatten(structure)

            def digest(*tensors: Any) -> Any:
                import numpy as np

                arrays = [np.asarray(t.numpy() if hasattr(t, "numpy") else t) for t in tensors]
                packed = tf.nest.pack_sequence_as(structure, arrays)
                if isinstance(packed, (tuple, list)) and len(packed) >= 2:
                    inputs, targets = packed[0], packed[1]
                else:
                    inputs, targets = packed, None
                entry = [_structure_sha(inputs), _structure_sha(targets)]
                if probe_step is not None and len(trace["inputs"]) == probe_step:
                    trace["probe_batch"] = packed
                trace["inputs"].append(entry)
                return np.int64(0)

            done = tf.py_function(digest, flat, tf.int64)
            with tf.control_dependencies([done]):
                out = [tf.identity(t) for t in flat]
            return tf.nest.pack_sequence_as(structure, out)

        # Sequential (no num_parallel_calls): batches are digested in the
        # order fit() consumes them.
        return dataset.map(tap)

    adapter.get_tf_dataset = get_tf_dataset


def _structure_sha(value: Any) -> str | None:
    if value is None:
        return None
    import tensorflow as tf

    sha = hashlib.sha256()
    for item in tf.nest.flatten(value):
        sha.update(_array_sha(item).encode())
    return sha.hexdigest()


def _probe_step(model: Any, weights: list[Any], record: dict[str, Any], step: int) -> dict[str, Any]:
    """Recompute one training step eagerly, layer by layer, from the weights
    it started from and the batch it trained on; digest what each layer did."""
    probe: dict[str, Any] = {"step": step, "layers": [], "error": None}
    batch = (record.get("trace") or {}).pop("probe_batch", None)
    if batch is None:
        probe["error"] = "the batch of this step was not seen by the input tap"
        return probe
    try:
        import keras
        import tensorflow as tf

        model.set_weights(weights)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(tuple(batch) if isinstance(batch, list) else batch)
        layers = list(getattr(model, "layers", []) or [])
        outputs: list[tuple[str, Any]] = []
        with tf.GradientTape(persistent=True) as tape:
            if isinstance(model, keras.Sequential):
                hidden = tf.convert_to_tensor(x) if not isinstance(x, (dict, list, tuple)) else x
                for layer in layers:
                    hidden = layer(hidden, training=True)
                    outputs.append((layer.name, hidden))
                y_pred = hidden
            else:
                # Other models: no per-layer outputs, gradients per layer only.
                y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        variables = list(model.trainable_variables)
        var_grads = tape.gradient(loss, variables)
        out_grads = tape.gradient(loss, [o for _, o in outputs]) if outputs else []
        grad_by_var = {id(v): g for v, g in zip(variables, var_grads)}
        out_by_name = {name: (o, g) for (name, o), g in zip(outputs, out_grads)}
        for layer in layers:
            entry: dict[str, Any] = {"name": layer.name, "output": None, "output_grad": None,
                                     "weight_grads": None}
            if layer.name in out_by_name:
                out, grad = out_by_name[layer.name]
                entry["output"] = _structure_sha(out)
                entry["output_grad"] = _structure_sha(grad) if grad is not None else None
            grads = [grad_by_var.get(id(v)) for v in layer.trainable_variables]
            if grads:
                entry["weight_grads"] = _structure_sha([g for g in grads if g is not None])
            probe["layers"].append(entry)
        probe["loss"] = _array_sha(loss)
    except Exception as exc:  # diagnosis only: never break the run
        probe["error"] = repr(exc)
    return probe


def _patch_fit(model_cls: type, keras_callback_base: type) -> None:
    original = model_cls.fit  # type: ignore[attr-defined]
    if getattr(original, "_tf_repro_verify", False):
        return
    signature = inspect.signature(original)

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        assert STATE is not None
        if _depth("fit") > 0:  # fit called from inside fit: record the outer only
            return original(self, *args, **kwargs)
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)  # let Keras raise its own error
        record: dict[str, Any] = {
            "kind": "fit",
            "index": len(STATE.captures),
            "model_class": _qualname(self),
            "model_name": str(getattr(self, "name", "")),
            "truncated": False,
            "batches": [],
            "epochs": [],
            "variables": [],
            "optimizer_class": None,
            "optimizer_variables": [],
            "completed": False,
        }
        STATE.captures.append(record)
        STATE.tap_record = record if STATE.trace else None
        recorder = _make_recorder_callback(keras_callback_base, record)
        callbacks = bound.arguments.get("callbacks")
        if callbacks is None:
            callbacks = [recorder]
        elif hasattr(callbacks, "callbacks") and hasattr(callbacks, "append"):
            callbacks.append(recorder)  # a CallbackList built by the user
        else:
            # Copy: never mutate the user's own list.
            callbacks = [recorder] + list(callbacks)
        bound.arguments["callbacks"] = callbacks
        _enter_fit()
        try:
            result = original(*bound.args, **bound.kwargs)
        finally:
            _leave_fit()
            STATE.tap_record = None
        record["completed"] = True
        _digest_model_state(self, record)
        return result

    fit.__wrapped__ = original  # type: ignore[attr-defined]
    fit.__signature__ = signature  # type: ignore[attr-defined]
    fit.__doc__ = original.__doc__
    fit._tf_repro_verify = True  # type: ignore[attr-defined]
    model_cls.fit = fit  # type: ignore[method-assign,attr-defined]


def _enter_fit() -> None:
    assert STATE is not None
    _set_depth("fit", _depth("fit") + 1)
    with STATE.fit_lock:
        STATE.fit_active += 1


def _leave_fit() -> None:
    assert STATE is not None
    _set_depth("fit", _depth("fit") - 1)
    with STATE.fit_lock:
        STATE.fit_active -= 1


def _in_fit() -> bool:
    assert STATE is not None
    return _depth("fit") > 0 or STATE.fit_active > 0


def optimizer_variables(optimizer: Any) -> list[Any]:
    """An optimizer's variables: a list in Keras 3 and tf_keras, a method on
    tf_keras' legacy ``OptimizerV2``."""
    variables = getattr(optimizer, "variables", None)
    if callable(variables) and not isinstance(variables, (list, tuple)):
        try:
            variables = variables()
        except Exception:
            variables = None
    return list(variables or [])


def _is_optimizer(value: Any) -> bool:
    assert STATE is not None
    classes = tuple(STATE.optimizer_classes)
    return bool(classes) and isinstance(value, classes)


def model_optimizers(model: Any) -> list[tuple[str, Any]]:
    """``model.optimizer`` and every other optimizer kept as an attribute of
    the model (``self.d_optimizer``...), by attribute name, each once."""
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()
    main = getattr(model, "optimizer", None)
    if main is not None:
        found.append(("optimizer", main))
        seen.add(id(main))
    try:
        attributes = sorted(vars(model).items())
    except TypeError:
        attributes = []
    for name, value in attributes:
        if name.startswith("__") or id(value) in seen or not _is_optimizer(value):
            continue
        found.append((name, value))
        seen.add(id(value))
    return found


def _digest_model_state(model: Any, record: dict[str, Any]) -> None:
    """Digest the model's variables and those of all its optimizers.

    Variables of optimizers other than ``model.optimizer`` are named
    ``ATTRIBUTE/variable`` so two optimizers with the same default name
    (two ``adam``) stay apart and the report names the attribute.
    """
    record["variables"] = digest_variables(getattr(model, "weights", []))
    record["optimizer_variables"] = []
    record["optimizers"] = []
    for attribute, optimizer in model_optimizers(model):
        digests = digest_variables(optimizer_variables(optimizer))
        if attribute == "optimizer":
            record["optimizer_class"] = _qualname(optimizer)
        else:
            for digest in digests:
                digest["name"] = f"{attribute}/{digest.get('name')}"
        record["optimizer_variables"] += digests
        record["optimizers"].append(
            {"attribute": attribute, "class": _qualname(optimizer), "n_variables": len(digests)}
        )


def _patch_model(model_cls: type, callback_base: type, label: str) -> None:
    _patch_fit(model_cls, callback_base)
    _patch_train_on_batch(model_cls)
    _patch_outputs(model_cls)
    assert STATE is not None
    STATE.patched.append(label)


def _on_keras_model_module(module: ModuleType) -> None:
    from keras.src.callbacks.callback import Callback

    _patch_model(module.Model, Callback, "keras.Model.fit")


def _on_tf_keras_training_module(module: ModuleType) -> None:
    # tf_keras (Keras 2), also what `tf.keras` is under TF_USE_LEGACY_KERAS=1.
    from tf_keras.src.callbacks import Callback

    _patch_model(module.Model, Callback, "tf_keras.Model.fit")


# ---------------------------------------------------------------------------
# train_on_batch() capture: one capture per model, one logged row per call
# ---------------------------------------------------------------------------


def _encode_logs(result: Any) -> dict[str, str]:
    """The value(s) train_on_batch returned, as ``{name: encoded}``."""
    if isinstance(result, dict):
        return {str(k): encode_scalar(v) for k, v in sorted(result.items())}
    if isinstance(result, (list, tuple)):
        return {("loss" if i == 0 else f"output_{i}"): encode_scalar(v) for i, v in enumerate(result)}
    return {"loss": encode_scalar(result)}


def _patch_train_on_batch(model_cls: type) -> None:
    original = getattr(model_cls, "train_on_batch", None)
    if original is None or getattr(original, "_tf_repro_verify", False):
        return

    def train_on_batch(self: Any, *args: Any, **kwargs: Any) -> Any:
        assert STATE is not None
        if _in_fit():
            return original(self, *args, **kwargs)
        _enter_fit()  # its optimizer step is this capture, not a custom loop
        try:
            result = original(self, *args, **kwargs)
        finally:
            _leave_fit()
        rec = STATE.tob_records.get(id(self))
        if rec is None:
            rec = {
                "kind": "train_on_batch",
                "index": len(STATE.captures),
                "model_class": _qualname(self),
                "model_name": str(getattr(self, "name", "")),
                "truncated": False,
                "batches": [],
                "epochs": [],
                "calls": 0,
                "variables": [],
                "optimizer_class": None,
                "optimizer_variables": [],
            }
            STATE.tob_records[id(self)] = rec
            STATE.tob_models.append(self)
            STATE.captures.append(rec)
        try:
            rec["batches"].append({"epoch": 0, "batch": rec["calls"], "logs": _encode_logs(result)})
        except Exception as exc:  # never let the capture break training
            rec.setdefault("errors", []).append(repr(exc))
        rec["calls"] += 1
        if STATE.max_steps is not None and rec["calls"] >= STATE.max_steps:
            rec["truncated"] = True
            STATE.stopped_by_max_steps = f"train_on_batch of {rec['model_name'] or rec['model_class']}"
            raise _MaxStepsReached()
        return result

    train_on_batch.__wrapped__ = original  # type: ignore[attr-defined]
    train_on_batch.__doc__ = original.__doc__
    train_on_batch._tf_repro_verify = True  # type: ignore[attr-defined]
    model_cls.train_on_batch = train_on_batch  # type: ignore[attr-defined]


def _finish_tob_captures() -> None:
    assert STATE is not None
    for model in STATE.tob_models:
        rec = STATE.tob_records[id(model)]
        _digest_model_state(model, rec)
        opt = getattr(model, "optimizer", None)
        try:
            rec["iterations"] = int(_to_numpy(opt.iterations)) if opt is not None else None
        except Exception:
            rec["iterations"] = None


# ---------------------------------------------------------------------------
# evaluate()/predict() capture (--compare-outputs)
# ---------------------------------------------------------------------------


def _digest_output(value: Any) -> Any:
    """Digest what predict() returned: arrays, or lists/dicts of them."""
    if isinstance(value, dict):
        return {str(k): _digest_output(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_digest_output(v) for v in value]
    record = digest_variable(value)
    record.pop("name", None)
    return record


def _patch_outputs(model_cls: type) -> None:
    for method in ("evaluate", "predict"):
        original = getattr(model_cls, method, None)
        if original is None or getattr(original, "_tf_repro_verify", False):
            continue
        setattr(model_cls, method, _output_wrapper(method, original))


def _output_wrapper(method: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        assert STATE is not None
        # evaluate() on validation data inside fit() belongs to that fit.
        if not STATE.capture_outputs or _in_fit() or _depth("outputs") > 0:
            return original(self, *args, **kwargs)
        _set_depth("outputs", 1)
        try:
            result = original(self, *args, **kwargs)
        finally:
            _set_depth("outputs", 0)
        entry: dict[str, Any] = {
            "kind": method,
            "index": len(STATE.outputs),
            "model_class": _qualname(self),
            "model_name": str(getattr(self, "name", "")),
        }
        try:
            if method == "evaluate":
                entry["values"] = _encode_logs(result)
            else:
                entry["digest"] = _digest_output(result)
        except Exception as exc:
            entry["error"] = repr(exc)
        STATE.outputs.append(entry)
        return result

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    wrapper.__doc__ = original.__doc__
    wrapper._tf_repro_verify = True  # type: ignore[attr-defined]
    return wrapper


# ---------------------------------------------------------------------------
# Custom training loop capture (optimizer steps outside fit)
# ---------------------------------------------------------------------------


def _eager_step_digest(grads: Any) -> str | None:
    """sha256 over all gradients of one step, or None in graph mode / too big."""
    tf = sys.modules.get("tensorflow")  # never import it here (other backends)
    if tf is not None and hasattr(tf, "executing_eagerly") and not tf.executing_eagerly():
        return None
    import numpy as np

    sha = hashlib.sha256()
    total = 0
    for grad in grads:
        if grad is None:
            sha.update(b"None")
            continue
        if hasattr(grad, "values") and hasattr(grad, "indices"):  # IndexedSlices
            grad = grad.values
        array = np.asarray(grad.numpy() if hasattr(grad, "numpy") else grad)
        total += array.size
        if total > MAX_STEP_DIGEST_ELEMENTS:
            return None
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()


def _patch_optimizer_apply(optimizer_cls: type) -> None:
    original = optimizer_cls.apply  # type: ignore[attr-defined]
    if getattr(original, "_tf_repro_verify", False):
        return

    def apply(self: Any, grads: Any, trainable_variables: Any = None) -> Any:
        assert STATE is not None
        if _in_fit() or _depth("apply") > 0:
            return original(self, grads, trainable_variables)
        _set_depth("apply", 1)
        try:
            result = original(self, grads, trainable_variables)
        finally:
            _set_depth("apply", 0)
        _after_loop_step(self, grads, trainable_variables)
        return result

    apply.__wrapped__ = original  # type: ignore[attr-defined]
    apply._tf_repro_verify = True  # type: ignore[attr-defined]
    optimizer_cls.apply = apply  # type: ignore[method-assign,attr-defined]


def _after_loop_step(optimizer: Any, grads: Any, trainable_variables: Any) -> None:
    """Record one optimizer step outside fit(); stop the script at --max-steps."""
    assert STATE is not None
    try:
        _record_loop_step(optimizer, grads, trainable_variables)
    except Exception as exc:  # never let the capture break training
        rec = STATE.loop_records.get(id(optimizer))
        if rec is not None:
            rec.setdefault("errors", []).append(repr(exc))
    rec = STATE.loop_records.get(id(optimizer))
    # Only eager steps are real steps here; inside tf.function this body runs
    # while tracing, and the tf.function call hook counts the steps instead.
    if STATE.max_steps is not None and rec is not None and rec["per_step"] and _executing_eagerly():
        if rec["apply_calls"] >= STATE.max_steps:
            _stop_loop(rec)


def _executing_eagerly() -> bool:
    tf = sys.modules.get("tensorflow")
    if tf is None or not hasattr(tf, "executing_eagerly"):
        return True  # another backend: no graph tracing through this path
    return bool(tf.executing_eagerly())


def _stop_loop(rec: dict[str, Any]) -> None:
    assert STATE is not None
    rec["truncated"] = True
    STATE.stopped_by_max_steps = f"optimizer {rec.get('optimizer_name') or rec.get('optimizer_class')}"
    raise _MaxStepsReached()


def _check_loop_iterations() -> None:
    """After each tf.function call outside fit(): stop once an optimizer
    stepped outside fit() has made --max-steps steps."""
    assert STATE is not None
    if STATE.max_steps is None or not STATE.loop_optimizers or _in_fit() or not _executing_eagerly():
        return
    for optimizer in STATE.loop_optimizers:
        try:
            steps = int(_to_numpy(optimizer.iterations))
        except Exception:
            continue
        if steps >= STATE.max_steps:
            _stop_loop(STATE.loop_records[id(optimizer)])


def _on_tf_function_module(module: ModuleType) -> None:
    # A tf.function's Python body runs only while tracing, so a custom loop
    # compiled with tf.function is counted here, once per call.
    cls = getattr(module, "Function", None)
    if cls is None or getattr(cls.__call__, "_tf_repro_verify", False):
        return
    original = cls.__call__

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        assert STATE is not None
        if STATE.max_steps is not None and STATE.loop_optimizers:
            _check_loop_iterations()
        return result

    __call__.__wrapped__ = original  # type: ignore[attr-defined]
    __call__._tf_repro_verify = True  # type: ignore[attr-defined]
    cls.__call__ = __call__


def _patch_tf_keras_apply_gradients(optimizer_cls: type) -> None:
    """tf_keras optimizers have no ``apply``: wrap ``apply_gradients``."""
    original = optimizer_cls.__dict__.get("apply_gradients")
    if original is None or getattr(original, "_tf_repro_verify", False):
        return

    def apply_gradients(self: Any, grads_and_vars: Any, *args: Any, **kwargs: Any) -> Any:
        assert STATE is not None
        if _in_fit() or _depth("apply") > 0:
            return original(self, grads_and_vars, *args, **kwargs)
        # Often a zip iterator: materialise it once for both uses.
        pairs = list(grads_and_vars)
        _set_depth("apply", 1)
        try:
            result = original(self, pairs, *args, **kwargs)
        finally:
            _set_depth("apply", 0)
        _after_loop_step(self, [g for g, _ in pairs], [v for _, v in pairs])
        return result

    apply_gradients.__wrapped__ = original  # type: ignore[attr-defined]
    apply_gradients.__doc__ = original.__doc__
    apply_gradients._tf_repro_verify = True  # type: ignore[attr-defined]
    optimizer_cls.apply_gradients = apply_gradients  # type: ignore[attr-defined]


def _hook_tf_keras_optimizer(optimizer_cls: type, label: str) -> None:
    _patch_tf_keras_apply_gradients(optimizer_cls)
    assert STATE is not None
    STATE.optimizer_classes.append(optimizer_cls)
    STATE.patched.append(label)


def _on_tf_keras_optimizer_module(module: ModuleType) -> None:
    _hook_tf_keras_optimizer(module._BaseOptimizer, "tf_keras Optimizer.apply_gradients")


def _on_tf_keras_legacy_optimizer_module(module: ModuleType) -> None:
    _hook_tf_keras_optimizer(module.OptimizerV2, "tf_keras legacy OptimizerV2.apply_gradients")


def _record_loop_step(optimizer: Any, grads: Any, trainable_variables: Any) -> None:
    assert STATE is not None
    rec = STATE.loop_records.get(id(optimizer))
    if rec is None:
        rec = {
            "kind": "optimizer",
            "optimizer_class": _qualname(optimizer),
            "optimizer_name": str(getattr(optimizer, "name", "")),
            "apply_calls": 0,
            "step_digests": [],
            "per_step": True,
            "seen_variables": list(trainable_variables or []),
        }
        STATE.loop_records[id(optimizer)] = rec
        STATE.loop_optimizers.append(optimizer)
    rec["apply_calls"] += 1
    if rec["per_step"]:
        digest = _eager_step_digest(list(grads))
        if digest is None:
            # Inside tf.function the Python body runs only while tracing, so
            # per-step digests are impossible; the end state still is compared.
            rec["per_step"] = False
            rec["step_digests"] = []
        else:
            rec["step_digests"].append(digest)


def _finish_loop_captures() -> None:
    """Digest the variables of every optimizer stepped outside fit()."""
    assert STATE is not None
    for optimizer in STATE.loop_optimizers:
        rec = STATE.loop_records[id(optimizer)]
        variables = list(getattr(optimizer, "_trainable_variables", None) or [])
        if not variables:
            variables = rec["seen_variables"]
        capture = {k: v for k, v in rec.items() if k != "seen_variables"}
        capture["index"] = len(STATE.captures)
        capture["variables"] = digest_variables(variables)
        capture["optimizer_variables"] = digest_variables(optimizer_variables(optimizer))
        try:
            capture["iterations"] = int(_to_numpy(optimizer.iterations))
        except Exception:
            capture["iterations"] = None
        STATE.captures.append(capture)


def _on_keras_optimizer_module(module: ModuleType) -> None:
    _patch_optimizer_apply(module.BaseOptimizer)
    assert STATE is not None
    STATE.optimizer_classes.append(module.BaseOptimizer)
    STATE.patched.append("keras BaseOptimizer.apply")


# ---------------------------------------------------------------------------
# Seed setters: record, and shift for the --control run
# ---------------------------------------------------------------------------


def _shift(value: Any) -> Any:
    assert STATE is not None
    if STATE.seed_offset and isinstance(value, int) and not isinstance(value, bool):
        return value + STATE.seed_offset
    return value


def _record_seed(fn: str, value: Any, applied: Any) -> None:
    assert STATE is not None
    try:
        shown: Any = int(value) if value is not None else None
    except (TypeError, ValueError):
        shown = repr(value)
    STATE.seed_calls.append({"fn": fn, "value": shown, "shifted": applied is not value})


def _wrap_seed_setter(fn_name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if args:
            value = args[0]
            applied = _shift(value)
            _record_seed(fn_name, value, applied)
            args = (applied,) + args[1:]
        elif "seed" in kwargs:
            value = kwargs["seed"]
            applied = _shift(value)
            _record_seed(fn_name, value, applied)
            kwargs["seed"] = applied
        elif fn_name != "numpy.random.default_rng":
            _record_seed(fn_name, None, None)
        return original(*args, **kwargs)

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    wrapper.__name__ = getattr(original, "__name__", fn_name)
    wrapper.__doc__ = getattr(original, "__doc__", None)
    return wrapper


def _patch_python_random() -> None:
    import random

    random.seed = _wrap_seed_setter("random.seed", random.seed)  # type: ignore[assignment]


def _on_numpy_random(module: ModuleType) -> None:
    module.seed = _wrap_seed_setter("numpy.random.seed", module.seed)  # type: ignore[attr-defined]
    module.default_rng = _wrap_seed_setter("numpy.random.default_rng", module.default_rng)  # type: ignore[attr-defined]


def _on_tf_context(module: ModuleType) -> None:
    # Every eager path (tf.random.set_seed, tf.compat.v1.set_random_seed,
    # keras.utils.set_random_seed) ends in Context._set_global_seed.
    original = module.Context._set_global_seed

    def _set_global_seed(self: Any, seed: Any) -> Any:
        applied = _shift(seed)
        _record_seed("tf.random.set_seed", seed, applied)
        return original(self, applied)

    module.Context._set_global_seed = _set_global_seed


# ---------------------------------------------------------------------------
# Post-import hooks
# ---------------------------------------------------------------------------


HOOKS: dict[str, Callable[[ModuleType], None]] = {
    "keras.src.models.model": _on_keras_model_module,
    "keras.src.optimizers.base_optimizer": _on_keras_optimizer_module,
    "tensorflow.python.eager.context": _on_tf_context,
    "numpy.random": _on_numpy_random,
    "tf_keras.src.engine.training": _on_tf_keras_training_module,
    "tf_keras.src.optimizers.optimizer": _on_tf_keras_optimizer_module,
    "tf_keras.src.optimizers.legacy.optimizer_v2": _on_tf_keras_legacy_optimizer_module,
    "tensorflow.python.eager.polymorphic_function.polymorphic_function": _on_tf_function_module,
    "multiprocessing.process": lambda module: _patch_process_start(module),
    "keras.src.trainers.data_adapters": _on_data_adapters_module,
}


# ---------------------------------------------------------------------------
# Processes the script starts (not followed: recorded so the report can say so)
# ---------------------------------------------------------------------------


def _looks_like_python(argv: list[str]) -> bool:
    if not argv:
        return False
    exe = os.path.basename(argv[0])
    if argv[0] == sys.executable or exe.startswith("python") or exe in ("pytest", "ipython"):
        return True
    return any(a.endswith(".py") for a in argv[:3])


def _record_subprocess(how: str, command: Any, shell: bool = False) -> None:
    if STATE is None or not STATE.recording_subprocesses or len(STATE.subprocesses) >= 50:
        return
    try:
        if isinstance(command, (str, bytes, os.PathLike)):
            text = os.fsdecode(command)
            argv = text.split() if shell or how == "os.system" else [text]
        else:
            argv = [os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in command]
        # `sh -c "python train.py"`: judge the command the shell runs.
        inner = argv[2].split() if len(argv) > 2 and argv[1] == "-c" and os.path.basename(argv[0]) in ("sh", "bash") else argv
        STATE.subprocesses.append(
            {"how": how, "command": " ".join(argv)[:300], "python": how == "multiprocessing" or _looks_like_python(inner)}
        )
    except Exception:
        pass


def _patch_subprocess() -> None:
    import subprocess

    original_init = subprocess.Popen.__init__
    if getattr(original_init, "_tf_repro_verify", False):
        return

    def __init__(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        _record_subprocess("subprocess", args, bool(kwargs.get("shell")))
        original_init(self, args, *rest, **kwargs)

    __init__._tf_repro_verify = True  # type: ignore[attr-defined]
    subprocess.Popen.__init__ = __init__  # type: ignore[method-assign]
    original_system = os.system

    def system(command: Any) -> int:
        _record_subprocess("os.system", command, True)
        return original_system(command)

    os.system = system


def _patch_process_start(module: ModuleType) -> None:
    original = module.BaseProcess.start
    if getattr(original, "_tf_repro_verify", False):
        return

    def start(self: Any) -> None:
        target = getattr(self, "_target", None)
        _record_subprocess("multiprocessing", [f"Process(target={getattr(target, '__name__', target)!s})"])
        original(self)

    start._tf_repro_verify = True  # type: ignore[attr-defined]
    module.BaseProcess.start = start


class _HookedLoader(importlib.abc.Loader):
    """Delegates to the real loader, then runs the post-import hook."""

    def __init__(self, loader: Any, hook: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._hook = hook

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        try:
            self._hook(module)
        except Exception as exc:  # a broken hook must not break the script
            sys.stderr.write(f"[tf-repro-migrate verify] hook for {module.__name__} failed: {exc!r}\n")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder that wraps the loaders of the modules in HOOKS."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        hook = HOOKS.get(fullname)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _HookedLoader(spec.loader, hook)
                return spec
        return None


# Files the script opens at absolute paths outside its working directory are
# recorded (a run that reads what a previous run wrote, e.g. a checkpoint it
# resumes from, is a cause of differences the per-run scratch directory cannot
# prevent).  Interpreter and library files are not of interest.
MAX_RECORDED_FILES = 200
_IGNORED_SUFFIXES = (".py", ".pyc", ".so", ".pth", ".json.tmp")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _file_audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or STATE is None or not args:
        return
    path = args[0]
    if not isinstance(path, str) or not os.path.isabs(path):
        return
    try:
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else 0
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and bool(flags & _WRITE_FLAGS))
        real = os.path.realpath(path)
        if real.endswith(_IGNORED_SUFFIXES) or real.startswith(_IGNORED_PREFIXES) or os.path.isdir(real):
            return
        cwd = os.path.realpath(os.getcwd())
        if real == cwd or real.startswith(cwd + os.sep):
            return
        if not writing:
            # Only files that existed before this run started: a file the run
            # wrote itself and reads back is not state from another run.
            try:
                if os.stat(real).st_mtime >= STATE.started:
                    return
            except OSError:
                return
        target = STATE.files_written if writing else STATE.files_read
        if real not in target and len(target) < MAX_RECORDED_FILES:
            target.append(real)
    except Exception:  # an audit hook must never raise into the script
        return


_IGNORED_PREFIXES: tuple[str, ...] = tuple(
    {os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    | {"/proc/", "/sys/", "/dev/", "/etc/"}
)


def install_hooks() -> None:
    """Patch what is already imported and hook what the script imports later."""
    sys.addaudithook(_file_audit_hook)
    _patch_python_random()
    _patch_subprocess()
    sys.meta_path.insert(0, _PostImportFinder())
    for name, hook in HOOKS.items():
        module = sys.modules.get(name)
        if module is not None:
            hook(module)


# ---------------------------------------------------------------------------
# Environment fingerprint
# ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_fingerprint() -> dict[str, Any]:
    """Describe the environment this run executed in, as seen after the script.

    TensorFlow and Keras are only queried if the script imported them.
    """
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        # CPUs this process may use (taskset, cgroups, a batch scheduler's
        # allocation): thread pools and so numerics follow this, not cpu_count.
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "hostname": platform.node(),
        "env": {name: os.environ.get(name) for name in FINGERPRINT_ENV_VARS},
        "numpy": None,
        "tensorflow": None,
        "keras": None,
    }
    if "numpy" in sys.modules:
        env["numpy"] = getattr(sys.modules["numpy"], "__version__", None)
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "config"):
        info: dict[str, Any] = {"version": getattr(tf, "__version__", None)}
        try:
            info["devices"] = [
                f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}"
                for d in tf.config.list_physical_devices()
            ]
        except Exception as exc:
            info["devices"] = [f"unknown ({exc!r})"]
        try:
            # The accelerator model (e.g. "NVIDIA A100-SXM4-40GB"): runs on
            # different models are not expected to agree bit for bit.
            info["device_models"] = [
                str(tf.config.experimental.get_device_details(d).get("device_name", d.device_type))
                for d in tf.config.list_physical_devices()
                if d.device_type != "CPU"
            ]
        except Exception:
            info["device_models"] = None
        try:
            info["intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
            info["inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
        except Exception:
            pass
        try:
            # Not exported under tf.config; the internal module is stable
            # since TF 2.8 and only read here.
            from tensorflow.python.framework import config as tf_config

            info["op_determinism"] = bool(tf_config.is_op_determinism_enabled())
        except Exception:
            info["op_determinism"] = None
        env["tensorflow"] = info
    keras = sys.modules.get("keras")
    if keras is not None:
        info = {"version": getattr(keras, "__version__", None)}
        try:
            info["backend"] = keras.backend.backend()
        except Exception:
            pass
        env["keras"] = info
    return env


# ---------------------------------------------------------------------------
# Running the script
# ---------------------------------------------------------------------------


def _error_record(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "type": type(exc).__name__,
        "qualified_type": _qualname(exc),
        "message": str(exc),
        "frames": [
            {"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line}
            for f in frames[-40:]
        ],
    }


def _print_script_traceback(exc: BaseException) -> None:
    """Print the traceback as `python script.py` would: without harness frames."""
    tb = exc.__traceback__
    own = {os.path.abspath(__file__), "<frozen runpy>", runpy.__file__}
    while tb is not None and (
        tb.tb_frame.f_code.co_filename in own or os.path.abspath(tb.tb_frame.f_code.co_filename) in own
    ):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__)


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    # sys.exit("message") prints the message and exits with status 1.
    sys.stderr.write(f"{code}\n")
    return 1


def _write_json_atomic(path: str, payload: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp, path)


def run_script(script: str, args: list[str], result_path: str) -> int:
    """Run ``script`` as ``__main__`` with ``args`` and write the results.

    Returns the exit status the script would have had under plain ``python``.
    """
    assert STATE is not None
    started = time.perf_counter()
    script_abs = os.path.abspath(script)
    # Mimic `python script.py` on CPython >= 3.9: an absolute __file__, and
    # sys.path[0] is the script's directory (symlinks resolved) instead of
    # `-m`'s working directory.  (runpy sets sys.argv[0] to the same absolute
    # path while the script runs.)
    sys.argv = [script_abs] + list(args)
    sys.path[0] = os.path.dirname(os.path.realpath(script_abs))
    status = "ok"
    exit_code = 0
    error: dict[str, Any] | None = None
    try:
        runpy.run_path(script_abs, run_name="__main__")
    except _MaxStepsReached:
        status = "ok"  # --max-steps ended the script on purpose
    except SystemExit as exc:
        exit_code = _exit_code(exc)
        status = "ok" if exit_code == 0 else "exit"
    except BaseException as exc:  # report like the interpreter would, then record
        _print_script_traceback(exc)
        status = "error"
        exit_code = 1
        error = _error_record(exc)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        payload: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "script": script,
            "argv": list(args),
            "status": status,
            "exit_code": exit_code,
            "error": error,
            "seed_offset": STATE.seed_offset,
            "max_steps": STATE.max_steps,
            "seed_calls": STATE.seed_calls,
            "patched": STATE.patched,
            "stopped_by_max_steps": STATE.stopped_by_max_steps,
            "files_read": list(STATE.files_read),
            "files_written": list(STATE.files_written),
            "trace": STATE.trace,
            "probe_step": STATE.probe_step,
        }
        STATE.recording_subprocesses = False  # the fingerprint's own probes
        payload["subprocesses"] = STATE.subprocesses
        try:
            _finish_tob_captures()
            _finish_loop_captures()
        except Exception as exc:
            payload["capture_error"] = repr(exc)
        for capture in STATE.captures:  # a probe batch never reached: not JSON
            (capture.get("trace") or {}).pop("probe_batch", None)
        payload["captures"] = STATE.captures
        payload["outputs"] = STATE.outputs
        try:
            payload["environment"] = environment_fingerprint()
        except Exception as exc:
            payload["environment"] = {"error": repr(exc)}
        payload["duration_s"] = time.perf_counter() - started
        _write_json_atomic(result_path, payload)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process."""
    global STATE
    parser = argparse.ArgumentParser(prog="python -m tf_repro_migrate.verify.harness")
    parser.add_argument("--result", required=True, help="where to write the JSON results")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--seed-offset", type=int, default=0)
    parser.add_argument("--capture-outputs", action="store_true",
                        help="also digest evaluate()/predict() results outside fit()")
    parser.add_argument("--trace", action="store_true", help="digest every batch and the weights before it")
    parser.add_argument("--probe-step", type=int, default=None, help="recompute this step layer by layer")
    parser.add_argument("--probe-capture", type=int, default=0, help="index of the fit() of --probe-step")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    STATE = _State(ns.max_steps, ns.seed_offset, ns.trace, ns.probe_step)
    STATE.probe_capture = ns.probe_capture
    STATE.capture_outputs = ns.capture_outputs
    install_hooks()
    return run_script(ns.script, ns.args, ns.result)


if __name__ == "__main__":
    sys.exit(main())
