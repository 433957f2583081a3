"""Compare the captures of two runs, bit for bit.

The harness records logged losses/metrics as ``float.hex`` strings and
variables as sha256 digests (plus the raw values of small variables), so
"identical" here means bitwise identical.  When something differs this module
locates the first differing batch (or eager custom-loop step), lists the
differing variables with their largest absolute difference, and judges
whether the runs are still close in the ``numpy.allclose`` sense.

numpy is imported lazily (it is a TensorFlow dependency, so it is present in
the interpreter that runs the scripts); TensorFlow is never imported.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import tokenize
from dataclasses import asdict, dataclass, field
from typing import Any

# numpy.allclose defaults.
RTOL = 1e-05
ATOL = 1e-08


@dataclass
class ValueDiff:
    """The first logged value that differs (a batch, an epoch or a step)."""

    epoch: int | None
    batch: int | None
    metric: str
    a: str | None
    b: str | None
    abs_diff: float | None


@dataclass
class VariableDiff:
    """One variable whose contents differ between two runs."""

    name: str
    group: str  # "model" or "optimizer"
    dtype: str
    shape: list[int]
    max_abs_diff: float | None  # None: variable too large to be stored in full
    allclose: bool | None
    n_elements_differing: int | None
    sum_a: str | None = None
    sum_b: str | None = None


@dataclass
class CaptureDiff:
    """Differences within one captured training (a fit call or a custom loop)."""

    index: int
    label: str
    structural: list[str] = field(default_factory=list)
    first_batch: ValueDiff | None = None
    first_epoch: ValueDiff | None = None
    first_step: int | None = None
    variables: list[VariableDiff] = field(default_factory=list)
    n_variables: int = 0

    @property
    def identical(self) -> bool:
        """True when nothing at all differs."""
        return not (
            self.structural or self.first_batch or self.first_epoch
            or self.first_step is not None or self.variables
        )


@dataclass
class PairDiff:
    """All differences between a reference run and another run."""

    run_a: str
    run_b: str
    structural: list[str] = field(default_factory=list)
    captures: list[CaptureDiff] = field(default_factory=list)
    closeness: str = "identical"  # identical | close | close where measured | far apart | unknown

    @property
    def identical(self) -> bool:
        """True when the two runs captured bitwise identical values."""
        return not self.structural and all(c.identical for c in self.captures)

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly form including the derived flags."""
        data = asdict(self)
        data["identical"] = self.identical
        for cap, obj in zip(data["captures"], self.captures):
            cap["identical"] = obj.identical
        return data


def capture_label(capture: dict[str, Any]) -> str:
    """Human label: ``fit #1 Sequential 'sequential'`` or ``custom loop #2 Adam``."""
    number = capture.get("index", 0) + 1
    if capture.get("kind") == "fit":
        cls = str(capture.get("model_class", "")).rsplit(".", 1)[-1]
        return f"fit #{number} ({cls} '{capture.get('model_name', '')}')"
    if capture.get("kind") == "train_on_batch":
        cls = str(capture.get("model_class", "")).rsplit(".", 1)[-1]
        return f"train_on_batch #{number} ({cls} '{capture.get('model_name', '')}')"
    cls = str(capture.get("optimizer_class", "")).rsplit(".", 1)[-1]
    return f"custom loop #{number} ({cls} '{capture.get('optimizer_name', '')}' stepped outside fit)"


def _decode_values(var: dict[str, Any]) -> Any:
    import numpy as np

    values = var.get("values")
    if not values:
        return None
    raw = base64.b64decode(values["b64"])
    return np.frombuffer(raw, dtype=np.dtype(values["dtype"])).reshape(var["shape"])


def _hex_to_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float.fromhex(text)
    except (TypeError, ValueError):
        return None


def _float_abs_diff(a: str | None, b: str | None) -> float | None:
    fa, fb = _hex_to_float(a), _hex_to_float(b)
    if fa is None or fb is None:
        return None
    return abs(fa - fb)


def _scalar_close(a: str | None, b: str | None) -> bool | None:
    fa, fb = _hex_to_float(a), _hex_to_float(b)
    if fa is None or fb is None:
        return None
    if math.isnan(fa) or math.isnan(fb):
        return False
    return abs(fa - fb) <= ATOL + RTOL * abs(fb)


def _first_log_diff(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]], kind: str) -> tuple[ValueDiff | None, list[str], list[bool | None]]:
    """Find the first row whose logs differ; also return closeness of all rows."""
    first: ValueDiff | None = None
    notes: list[str] = []
    close: list[bool | None] = []
    for row_a, row_b in zip(rows_a, rows_b):
        logs_a, logs_b = row_a.get("logs", {}), row_b.get("logs", {})
        # "loss" first: it is the value users look at.
        for metric in sorted(set(logs_a) | set(logs_b), key=lambda m: (m != "loss", m)):
            va, vb = logs_a.get(metric), logs_b.get(metric)
            if va == vb:
                continue
            close.append(_scalar_close(va, vb))
            if first is None:
                first = ValueDiff(
                    epoch=row_a.get("epoch"),
                    batch=row_a.get("batch") if kind == "batch" else None,
                    metric=metric,
                    a=va,
                    b=vb,
                    abs_diff=_float_abs_diff(va, vb),
                )
    if len(rows_a) != len(rows_b):
        notes.append(f"number of logged {kind}es differs: {len(rows_a)} vs {len(rows_b)}")
    return first, notes, close


def _compare_variables(vars_a: list[dict[str, Any]], vars_b: list[dict[str, Any]], group: str, diff: CaptureDiff, close: list[bool | None]) -> None:
    import numpy as np

    if len(vars_a) != len(vars_b):
        diff.structural.append(f"number of {group} variables differs: {len(vars_a)} vs {len(vars_b)}")
    diff.n_variables += min(len(vars_a), len(vars_b))
    for va, vb in zip(vars_a, vars_b):
        name = va.get("name", "?")
        if (va.get("name"), va.get("dtype"), va.get("shape")) != (vb.get("name"), vb.get("dtype"), vb.get("shape")):
            diff.structural.append(
                f"{group} variable mismatch: {name} {va.get('dtype')}{va.get('shape')} vs "
                f"{vb.get('name')} {vb.get('dtype')}{vb.get('shape')}"
            )
            close.append(False)
            continue
        if va.get("sha256") == vb.get("sha256") and va.get("sha256") is not None:
            continue
        record = VariableDiff(
            name=name, group=group, dtype=str(va.get("dtype")), shape=list(va.get("shape") or []),
            max_abs_diff=None, allclose=None, n_elements_differing=None,
            sum_a=(va.get("summary") or {}).get("sum"), sum_b=(vb.get("summary") or {}).get("sum"),
        )
        arr_a, arr_b = _decode_values(va), _decode_values(vb)
        if arr_a is not None and arr_b is not None and arr_a.shape == arr_b.shape:
            wa, wb = arr_a.astype(np.float64), arr_b.astype(np.float64)
            delta = np.abs(wa - wb)
            # NaN != NaN bitwise-wise only matters if the bits differ; count
            # positions whose values differ (treating NaN==NaN as equal).
            unequal = ~((wa == wb) | (np.isnan(wa) & np.isnan(wb)))
            record.n_elements_differing = int(np.count_nonzero(unequal))
            finite = delta[~np.isnan(delta)]
            record.max_abs_diff = float(finite.max()) if finite.size else float("nan")
            record.allclose = bool(np.allclose(wa, wb, rtol=RTOL, atol=ATOL, equal_nan=True))
        close.append(record.allclose)
        diff.variables.append(record)


def compare_captures(a: dict[str, Any], b: dict[str, Any], close: list[bool | None]) -> CaptureDiff:
    """Compare one captured training of run A with the same one of run B."""
    diff = CaptureDiff(index=a.get("index", 0), label=capture_label(a))
    for key in ("kind", "model_class", "model_name", "optimizer_class"):
        if a.get(key) != b.get(key):
            diff.structural.append(f"{key} differs: {a.get(key)!r} vs {b.get(key)!r}")
    diff.first_batch, notes, batch_close = _first_log_diff(a.get("batches", []), b.get("batches", []), "batch")
    diff.structural += notes
    close += batch_close
    diff.first_epoch, notes, epoch_close = _first_log_diff(a.get("epochs", []), b.get("epochs", []), "epoch")
    diff.structural += notes
    close += epoch_close
    steps_a, steps_b = a.get("step_digests") or [], b.get("step_digests") or []
    for i, (sa, sb) in enumerate(zip(steps_a, steps_b)):
        if sa != sb:
            diff.first_step = i
            break
    if a.get("apply_calls") != b.get("apply_calls"):
        diff.structural.append(f"number of optimizer steps differs: {a.get('apply_calls')} vs {b.get('apply_calls')}")
    _compare_variables(a.get("variables", []), b.get("variables", []), "model", diff, close)
    _compare_variables(a.get("optimizer_variables", []), b.get("optimizer_variables", []), "optimizer", diff, close)
    return diff


def compare_runs(label_a: str, result_a: dict[str, Any], label_b: str, result_b: dict[str, Any]) -> PairDiff:
    """Compare everything two runs captured; ``result_*`` are harness results."""
    pair = PairDiff(run_a=label_a, run_b=label_b)
    caps_a, caps_b = result_a.get("captures", []), result_b.get("captures", [])
    if len(caps_a) != len(caps_b):
        pair.structural.append(
            f"{label_a} captured {len(caps_a)} trainings, {label_b} captured {len(caps_b)}"
        )
    close: list[bool | None] = []
    for ca, cb in zip(caps_a, caps_b):
        pair.captures.append(compare_captures(ca, cb, close))
    if pair.identical:
        pair.closeness = "identical"
    elif pair.structural or any(c.structural for c in pair.captures) or any(x is False for x in close):
        pair.closeness = "far apart"
    elif close and all(x is True for x in close):
        pair.closeness = "close"
    elif any(x is True for x in close):
        pair.closeness = "close where measured"  # large variables: digest only
    else:
        pair.closeness = "unknown"
    return pair


def capture_count(result: dict[str, Any] | None) -> int:
    """How many trainings a run captured."""
    return len((result or {}).get("captures", []))


# ---------------------------------------------------------------------------
# Diagnosis: usual culprits and errors raised by op determinism
# ---------------------------------------------------------------------------


@dataclass
class Hint:
    """A likely cause of non-reproducibility."""

    id: str
    message: str
    source: str  # "script" (text scan) or "run" (observed in the child)
    line: int | None = None
    file: str | None = None  # for hints in another file than the script


# (id, regex, message) for the static scan of the script's source text.  A
# plain text scan is deliberate: it is cheap, needs no import of the script,
# and is only used to suggest causes, never to decide the verdict.
_TEXT_PATTERNS: list[tuple[str, str, str]] = [
    ("tf_data_nondeterministic", r"deterministic\s*=\s*False",
     "tf.data is allowed to produce elements out of order (deterministic=False)"),
    ("unseeded_default_rng", r"default_rng\(\s*\)",
     "np.random.default_rng() is created without a seed"),
    ("jit_compile", r"jit_compile\s*=\s*True",
     "XLA compilation (jit_compile=True) can pick kernels that are not deterministic"),
    ("nondeterministic_generator", r"from_non_deterministic_state",
     "tf.random.Generator.from_non_deterministic_state() is unseeded by design"),
    ("list_files", r"list_files\((?![^)]*seed\s*=)",
     "tf.data.Dataset.list_files shuffles the file names unless given shuffle=False or a seed"),
    ("unsorted_listing", r"^(?!.*sorted\().*(os\.listdir|glob\.glob|\.iterdir\(|\.glob\(|os\.scandir|os\.walk)",
     "directory listing order depends on the file system: wrap the listing in sorted()"),
    ("hash_builtin", r"(?<![\w.])hash\(",
     "hash() of str/bytes changes with PYTHONHASHSEED in every new process"),
    ("clock_seed", r"(?i:seed).*\b(time\.time|time_ns|datetime\.now|os\.getpid|uuid)",
     "a seed is derived from the clock, the process id or a uuid"),
    ("date_seed", r"(?=.*(?i:seed))(?=.*(\btoday\(|\.toordinal\(|strftime\(|\bdate\.fromtimestamp\())",
     ("a seed is derived from the date (e.g. datetime.date.today()): it changes every day, "
      "so runs on different days differ")),
]

# Global RNGs a PyDataset's __getitem__ may draw from (shared by its workers).
_SHARED_RNG = re.compile(
    r"\b(np|numpy)\.random\.(?!default_rng|RandomState|Generator|seed)\w+\(|(?<![\w.])random\.(random|uniform|randint|choice|shuffle|sample|gauss)\("
)
_WORKERS = re.compile(r"\bworkers\s*=\s*([2-9]|[1-9]\d+)\b")

# Unseeded generators searched for in the script's own local modules.
_UNSEEDED_GENERATORS = re.compile(
    r"default_rng\(\s*\)|RandomState\(\s*\)|(?<![\w.])random\.Random\(\s*\)|from_non_deterministic_state"
)

_STATEFUL_RANDOM = re.compile(
    r"tf\.random\.(uniform|normal|truncated_normal|shuffle|categorical|gamma|poisson)\b|tf\.image\.random_\w+"
)


def _code_lines(source: str) -> list[str]:
    """Source lines with comments and docstrings blanked (string literals
    other than docstrings are kept: file patterns may matter)."""
    lines = source.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [line.split("#", 1)[0] for line in lines]
    blank: list[tuple[int, int, int, int]] = []
    previous = tokenize.NEWLINE
    for tok in tokens:
        if tok.type == tokenize.COMMENT or (
            tok.type == tokenize.STRING and previous in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
        ):
            blank.append((*tok.start, *tok.end))
        if tok.type not in (tokenize.COMMENT,):
            previous = tok.type
    out = [list(line) for line in lines]
    for (srow, scol, erow, ecol) in blank:
        for row in range(srow, erow + 1):
            if row - 1 >= len(out):
                break
            line = out[row - 1]
            start = scol if row == srow else 0
            end = ecol if row == erow else len(line)
            for col in range(start, min(end, len(line))):
                line[col] = " "
    return ["".join(line) for line in out]


def scan_script(source: str) -> list[Hint]:
    """Static hints from the script's text (first matching line of each)."""
    hints: list[Hint] = []
    lines = _code_lines(source)
    for hint_id, pattern, message in _TEXT_PATTERNS:
        regex = re.compile(pattern)
        for number, code in enumerate(lines, start=1):
            if regex.search(code):
                hints.append(Hint(hint_id, message, "script", number))
                break
    code = "\n".join(lines)
    if "num_parallel_calls" in code:
        for number, line in enumerate(lines, start=1):
            if _STATEFUL_RANDOM.search(line):
                hints.append(Hint(
                    "stateful_random_in_parallel_map",
                    "stateful random ops with a parallel tf.data map: the order in which "
                    "elements draw random numbers is not fixed unless op determinism is "
                    "enabled; prefer tf.random.stateless_* ops with explicit seeds",
                    "script", number,
                ))
                break
    workers = next((n for n, line in enumerate(lines, start=1) if _WORKERS.search(line)), None)
    shared = next((n for n, line in enumerate(lines, start=1) if _SHARED_RNG.search(line)), None)
    if workers is not None and shared is not None and "PyDataset" in code:
        hints.append(Hint(
            "pydataset_workers_shared_rng",
            f"a PyDataset with workers > 1 (line {workers}) draws from a shared global RNG "
            f"(line {shared}): worker threads take their random numbers in whatever order they run, "
            "and op determinism does not order them. Draw from a generator seeded per batch in "
            "__getitem__ (np.random.default_rng([SEED, epoch, index])) or use workers=1",
            "script", shared,
        ))
    if "enable_op_determinism" not in code:
        hints.append(Hint(
            "no_op_determinism_text",
            "the script never calls tf.config.experimental.enable_op_determinism()",
            "script",
        ))
    return hints


def local_modules(script: str, source: str) -> list[str]:
    """Files of the modules ``script`` imports from its own directory
    (``import helpers``, ``from data import load``, ``from pkg.sub import x``),
    followed transitively; at most 50."""
    import ast

    root = os.path.dirname(os.path.abspath(script))
    seen: list[str] = []
    queue = [(os.path.abspath(script), source)]
    while queue and len(seen) < 50:
        _, text = queue.pop(0)
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        names: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
                names += [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            base = os.path.join(root, *parts)
            for candidate in (base + ".py", os.path.join(base, "__init__.py")):
                real = os.path.realpath(candidate)
                if os.path.isfile(real) and real not in seen and real != os.path.realpath(script):
                    seen.append(real)
                    try:
                        with open(real, encoding="utf-8", errors="replace") as fh:
                            queue.append((real, fh.read()))
                    except OSError:
                        pass
    return seen


def scan_local_modules(script: str, source: str) -> list[Hint]:
    """Unseeded generators (and the script-scan hazards) in the modules the
    script imports from its own directory."""
    hints: list[Hint] = []
    root = os.path.dirname(os.path.abspath(script))
    for path in local_modules(script, source):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        rel = os.path.relpath(path, root)
        lines = _code_lines(text)
        for number, line in enumerate(lines, start=1):
            if _UNSEEDED_GENERATORS.search(line):
                hints.append(Hint(
                    "unseeded_local_module",
                    f"an unseeded random generator in {rel}, a module the script imports "
                    f"({line.strip()[:80]}): it draws different numbers in every run whatever "
                    "global seeds the script sets; pass it a seed",
                    "script", number, rel,
                ))
                break
        for hint in scan_script(text):
            if hint.id in ("no_op_determinism_text", "unseeded_default_rng", "nondeterministic_generator"):
                continue  # the first is about the entry script; the others are reported above
            hint.file = rel
            hint.message += f" (in {rel}, imported by the script)"
            hints.append(hint)
    return hints


def run_hints(result: dict[str, Any]) -> list[Hint]:
    """Hints from what the harness observed in a (reference) run."""
    hints: list[Hint] = []
    seeded = {call.get("fn") for call in result.get("seed_calls", []) if call.get("value") is not None}
    env = result.get("environment") or {}
    tf_info = env.get("tensorflow") or {}
    if not seeded:
        hints.append(Hint(
            "no_seed",
            "no global seed was set during the run (no random.seed, numpy.random.seed, "
            "tf.random.set_seed or keras.utils.set_random_seed call): call "
            "keras.utils.set_random_seed(SEED) before building the model",
            "run",
        ))
    elif tf_info and "tf.random.set_seed" not in seeded:
        hints.append(Hint(
            "no_tf_seed",
            "TensorFlow's global seed was never set (seeds set: " + ", ".join(sorted(seeded)) + "): "
            "use keras.utils.set_random_seed(SEED), which sets Python, NumPy and TensorFlow seeds",
            "run",
        ))
    keras_info = env.get("keras") or {}
    if seeded and "random.seed" not in seeded and str(keras_info.get("version") or "").startswith("3"):
        hints.append(Hint(
            "python_random_unseeded",
            "Python's `random` module was never seeded (seeds set: " + ", ".join(sorted(seeded)) + "), "
            "and Keras 3 takes the seeds of initializers, dropout and SeedGenerator from it: "
            "np.random.seed + tf.random.set_seed leave exactly this behind. Use "
            "keras.utils.set_random_seed(SEED), which seeds Python, NumPy and TensorFlow",
            "run",
        ))
    if tf_info and tf_info.get("op_determinism") is False:
        hints.append(Hint(
            "no_op_determinism",
            "op determinism was off: call tf.config.experimental.enable_op_determinism()",
            "run",
        ))
    devices = tf_info.get("devices") or []
    if any(not str(d).startswith("CPU") for d in devices):
        hints.append(Hint(
            "accelerator",
            "an accelerator was visible (" + ", ".join(devices) + "): its kernels are "
            "non-deterministic unless op determinism is enabled",
            "run",
        ))
    return hints


def cross_run_hints(results: list[tuple[str, dict[str, Any]]]) -> list[Hint]:
    """Hints that need several runs: a run read (at an absolute path, outside
    its scratch directory) a file that existed before it started and that an
    earlier run wrote, e.g. a checkpoint it resumed from."""
    hints: list[Hint] = []
    written: dict[str, str] = {}
    for label, result in results:
        for path in result.get("files_read") or []:
            if path in written:
                hints.append(Hint(
                    "resume_from_previous_run",
                    f"{label} read {path}, which {written[path]} wrote: a file at an absolute path "
                    "(e.g. a checkpoint the script resumes from) carries state from one run to the "
                    "next. Write it relative to the working directory, or remove it between runs",
                    "run",
                ))
                return hints
        for path in result.get("files_written") or []:
            written.setdefault(path, label)
    return hints


def merge_hints(static: list[Hint], dynamic: list[Hint], op_determinism_known: bool) -> list[Hint]:
    """Combine both kinds, dropping the text-based op-determinism hint when the
    run reported the actual state."""
    ids = {h.id for h in dynamic}
    out = list(dynamic)
    for hint in static:
        if hint.id == "no_op_determinism_text" and (op_determinism_known or "no_op_determinism" in ids):
            continue
        out.append(hint)
    return out


_RANDOM_SEED_MSG = "Random ops require a seed to be set when determinism is enabled"


def explain_failure(result: dict[str, Any] | None, log_text: str, script_name: str) -> str | None:
    """Explain errors raised by op determinism itself, naming the op.

    ``UnimplementedError``: an op has no deterministic kernel (on this device).
    ``RuntimeError`` "Random ops require a seed ...": an unseeded random op ran
    while op determinism was enabled.  Returns None for other failures.
    """
    error = (result or {}).get("error") or {}
    etype = str(error.get("type") or "")
    message = str(error.get("message") or "")
    frames = error.get("frames") or []
    if not error:  # no structured error (e.g. the process died): use the log
        if _RANDOM_SEED_MSG in log_text:
            etype, message = "RuntimeError", _RANDOM_SEED_MSG
        elif "UnimplementedError" in log_text:
            etype = "UnimplementedError"
            message = log_text[log_text.rfind("UnimplementedError"):]
    where = _script_location(frames, script_name)
    if etype == "RuntimeError" and _RANDOM_SEED_MSG in message:
        op = _random_op_from_frames(frames, script_name) or "a random op"
        return (
            f"Op determinism is enabled, but the random op `{op}`{where} ran without a seed "
            "(TensorFlow raises RuntimeError instead of producing unrepeatable numbers). "
            "Set a global seed before it runs (keras.utils.set_random_seed(SEED)) or pass "
            "an explicit seed= to the op."
        )
    if etype == "UnimplementedError" or "UnimplementedError" in error.get("qualified_type", ""):
        op = unimplemented_op_name(message) or "an op"
        first = message.strip().splitlines()[0][:300] if message.strip() else ""
        return (
            f"Op determinism is enabled, but `{op}`{where} has no deterministic kernel on "
            f"this device (UnimplementedError: {first}). Run that op on the CPU "
            "(with tf.device('/CPU:0')), replace it with a deterministic equivalent, or "
            "accept that this step is not reproducible and disable op determinism."
        )
    return None


def unimplemented_op_name(message: str) -> str | None:
    """Extract the op name from a TensorFlow error message."""
    patterns = (
        r"\[Op:(\w+)\]",
        r"\{\{node ([^}]+)\}\}",
        r"__wrapped__(\w+?)_device_",
        r"\b(\w+) op (?:currently )?does not",
        r"implementation of (\w+)",
    )
    for pattern in patterns:
        match = re.search(pattern, message)
        if match:
            return match.group(1)
    return None


_WRAPPER_FUNCTIONS = {"error_handler", "wrapper", "op_dispatch_handler", "wrapped", "__call__"}


def _random_op_from_frames(frames: list[dict[str, Any]], script_name: str) -> str | None:
    """Name the unseeded random op: the API call on the script's line if
    visible, else the TensorFlow function that called random_seed.get_seed()."""
    for frame in reversed(frames):
        if os.path.basename(str(frame.get("file", ""))) == script_name:
            match = re.search(r"((?:tf|tensorflow|keras)\.[\w.]*random[\w.]*|[\w.]*random\w*)\s*\(", frame.get("code") or "")
            if match:
                return match.group(1)
            break
    for i, frame in enumerate(frames):
        if frame.get("function") == "get_seed" and str(frame.get("file", "")).endswith("random_seed.py"):
            for caller in reversed(frames[:i]):
                name = str(caller.get("function"))
                if name not in _WRAPPER_FUNCTIONS and "traceback_utils" not in str(caller.get("file")):
                    return name
    return None


def _script_location(frames: list[dict[str, Any]], script_name: str) -> str:
    for frame in reversed(frames):
        if os.path.basename(str(frame.get("file", ""))) == script_name:
            code = (frame.get("code") or "").strip()
            return f" (called at {script_name}:{frame.get('line')}: {code})"
    return ""


# ---------------------------------------------------------------------------
# What was trained, hazards, and what an agreement is worth
# ---------------------------------------------------------------------------


def trained(capture: dict[str, Any]) -> bool:
    """True when a capture trained at least one batch / optimizer step.

    ``fit(epochs=0)``, a fit over an empty dataset and similar captures record
    nothing that training produced, so their agreement proves nothing.
    """
    if capture.get("kind") in ("fit", "train_on_batch"):  # train_on_batch: one batch row per call
        return bool(capture.get("batches"))
    return bool(capture.get("apply_calls"))


def trained_count(result: dict[str, Any] | None) -> int:
    """How many of a run's captures trained anything."""
    return sum(1 for c in (result or {}).get("captures", []) if trained(c))


# Hints that name a source of run-to-run differences that may fire in only
# some runs (thread races, kernels, checkpoints, coarse clocks and dates):
# when one is present two agreeing runs are weak evidence, so they are shown
# with every verdict and verify runs more.  Causes that change every run
# (missing seeds, unseeded generators, hash()) are not in this set: two runs
# find them.
HAZARD_IDS = frozenset({
    "tf_data_nondeterministic", "stateful_random_in_parallel_map", "pydataset_workers_shared_rng",
    "jit_compile", "no_op_determinism", "accelerator", "date_seed", "clock_seed",
    "resume_from_previous_run",
})
# enable_op_determinism() overrides deterministic=False and runs tf.data
# functions with stateful ops serially, which defuses these two.
_DEFUSED_BY_OP_DETERMINISM = frozenset({"tf_data_nondeterministic", "stateful_random_in_parallel_map"})

# Runs when a hazard is present and --runs was not given.
ESCALATED_RUNS = 5


def hazards(hints: list[Hint], op_determinism: bool | None = None) -> list[Hint]:
    """The hints that make a 2-run agreement weak evidence (``op_determinism``:
    whether the run had op determinism enabled, if known)."""
    return [h for h in hints if h.id in HAZARD_IDS
            and not (op_determinism and h.id in _DEFUSED_BY_OP_DETERMINISM)]


def escape_probability(runs: int) -> float:
    """Chance that ``runs`` runs all agree although a source changes the
    result in half of the runs.

    Worst case over such sources: each run independently has outcome A or B
    with probability 1/2, so all agree with probability 2 * 0.5**runs (all A
    or all B).  (If every change gives a new result, it is 0.5**runs.)
    """
    return 2 * 0.5 ** runs


def agreement_text(runs: int) -> str:
    """One sentence on what ``runs`` agreeing runs are worth."""
    p = escape_probability(runs)
    return (f"{runs} runs agreed; a source that changes the result in half of the runs escapes "
            f"{runs} runs {p:.1%} of the time at most (2 x 0.5^{runs}); use --runs N for more.")


# ---------------------------------------------------------------------------
# Localizing the first divergence
# ---------------------------------------------------------------------------


def _batch_position(capture: dict[str, Any], step: int) -> tuple[int | None, int | None]:
    batches = capture.get("batches") or []
    if 0 <= step < len(batches):
        return batches[step].get("epoch"), batches[step].get("batch")
    return None, None


def initial_weights_split(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """The first fit whose initial weights differ between two runs, or None."""
    for ca, cb in zip(a.get("captures", []), b.get("captures", [])):
        wa, wb = ca.get("initial_weights"), cb.get("initial_weights")
        if not wa or not wb:
            continue
        names = [x["name"] for x, y in zip(wa, wb) if x.get("sha256") != y.get("sha256")]
        if names or len(wa) != len(wb):
            return {"stage": "initial weights", "capture": ca.get("index", 0), "label": capture_label(ca),
                    "variables": names,
                    "message": f"initial weights differ ({len(names)} of {len(wa)} variables, e.g. "
                               f"`{names[0] if names else '?'}`) in {capture_label(ca)}: a seed is "
                               "missing (or differs between runs)"}
    return None


def localize(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """Where two traced runs (harness ``--trace``) split first.

    Order: initial weights, then the input batches, then the first step whose
    result differs although its inputs and starting weights are equal.
    Returns None when the two runs do not differ in their traces.
    """
    split = initial_weights_split(a, b)
    if split:
        return split
    for ca, cb in zip(a.get("captures", []), b.get("captures", [])):
        ta, tb = ca.get("trace") or {}, cb.get("trace") or {}
        if not ta or not tb:
            continue
        inputs_a, inputs_b = ta.get("inputs") or [], tb.get("inputs") or []
        weights_a, weights_b = ta.get("weights_before") or [], tb.get("weights_before") or []
        batches_a, batches_b = ca.get("batches") or [], cb.get("batches") or []
        n = max(len(batches_a), len(batches_b))
        label = capture_label(ca)
        for step in range(n):
            if step < len(weights_a) and step < len(weights_b) and weights_a[step] != weights_b[step]:
                if step == 0:
                    return {"stage": "initial weights", "capture": ca.get("index", 0), "label": label,
                            "variables": [], "message": f"initial weights differ in {label}: a seed is missing "
                                       "(or differs between runs)"}
                # Weights differ before this step although the previous
                # steps had equal inputs: the previous step split.
                return _step_split(ca, label, step - 1)
            if step < len(inputs_a) and step < len(inputs_b) and inputs_a[step] != inputs_b[step]:
                epoch, batch = _batch_position(ca, step)
                part = "inputs" if inputs_a[step][0] != inputs_b[step][0] else "targets"
                return {"stage": "inputs", "capture": ca.get("index", 0), "label": label, "step": step,
                        "epoch": epoch, "batch": batch, "part": part,
                        "message": f"{part} differ from batch {batch} of epoch {epoch} (step {step}) in "
                                   f"{label}: the data pipeline is nondeterministic"}
            la = (batches_a[step] if step < len(batches_a) else {}).get("logs")
            lb = (batches_b[step] if step < len(batches_b) else {}).get("logs")
            if la != lb:
                return _step_split(ca, label, step)
    return None


def _step_split(capture: dict[str, Any], label: str, step: int) -> dict[str, Any]:
    epoch, batch = _batch_position(capture, step)
    return {"stage": "step", "capture": capture.get("index", 0), "label": label, "step": step,
            "epoch": epoch, "batch": batch, "layer": None,
            "message": f"inputs and weights equal, step {step} (epoch {epoch}, batch {batch}) of {label} "
                       "gives different results: a nondeterministic kernel or a race inside the step"}


def probe_split(a: dict[str, Any], b: dict[str, Any], split: dict[str, Any]) -> dict[str, Any]:
    """Refine a "step" split with two ``--probe-step`` runs: name the first
    layer (in forward order) whose output differs, else the layer nearest the
    loss whose gradient differs (gradients flow backwards)."""
    out = dict(split)
    index = split.get("capture", 0)
    caps_a, caps_b = a.get("captures", []), b.get("captures", [])
    if index >= len(caps_a) or index >= len(caps_b):
        return out
    pa, pb = caps_a[index].get("probe"), caps_b[index].get("probe")
    if not pa or not pb or pa.get("error") or pb.get("error"):
        out["probe_error"] = (pa or {}).get("error") or (pb or {}).get("error") or "no probe recorded"
        return out
    layers = list(zip(pa.get("layers", []), pb.get("layers", [])))
    step = split.get("step")
    for la, lb in layers:
        if la.get("output") != lb.get("output"):
            out.update(layer=la["name"], what="output")
            break
    else:
        # Backwards from the loss: the culprit is the first layer whose
        # incoming gradient (at its output) is equal but whose outgoing
        # gradients (to its input, i.e. the previous layer's output, or to
        # its weights) differ.
        for i in range(len(layers) - 1, -1, -1):
            la, lb = layers[i]
            to_input = i > 0 and layers[i - 1][0].get("output_grad") != layers[i - 1][1].get("output_grad")
            if to_input or la.get("weight_grads") != lb.get("weight_grads"):
                out.update(layer=la["name"], what="gradient")
                break
    if out.get("layer"):
        out["message"] = (f"inputs and weights equal, layer `{out['layer']}` {out['what']} differs at step "
                          f"{step} (epoch {split.get('epoch')}, batch {split.get('batch')}) of "
                          f"{split.get('label')}: a nondeterministic kernel")
    else:
        out["message"] = (split["message"] + "; recomputed eagerly layer by layer, step "
                          f"{step} agreed, so the difference is in the compiled step (a kernel or "
                          "thread race there)")
    return out
