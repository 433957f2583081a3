"""Properties of the engine on generated mixes of boilerplate and ordinary code.

Hypothesis builds programs from the shapes of PATTERNS.md (seed calls with various
seeds and keyword forms, ``ConfigProto`` blocks, sessions, ``set_session`` spellings,
environment writes, comments), placed at module level or inside functions, methods,
``if``/``for``/``with`` blocks, between "sentinel" statements of ordinary code. For
every program:

* the output parses;
* running the engine on its output changes nothing;
* every sentinel line survives byte for byte, in order: code outside the boilerplate
  is never touched.
"""

from __future__ import annotations

import ast

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tf_repro_migrate.context import Options
from tf_repro_migrate.engine import migrate_source

HEADER = """\
import os
import random
import random as rn
import numpy as np
import tensorflow as tf
import keras.backend.tensorflow_backend as KTF
from keras import backend as K
from keras.backend.tensorflow_backend import set_session
from tensorflow import set_random_seed
"""

SEEDS = st.sampled_from(["0", "1", "42", "1234", "seed", "SEED", "args.seed", "self._seed", "None", "int(s)"])


@st.composite
def seed_call(draw: st.DrawFn) -> list[str]:
    seed = draw(SEEDS)
    call = draw(st.sampled_from([
        "np.random.seed({})", "np.random.seed(seed={})", "random.seed({})", "rn.seed({})",
        "tf.set_random_seed({})", "tf.compat.v1.set_random_seed({})", "tf.random.set_random_seed({})",
        "tf.random.set_seed({})", "set_random_seed({})", "tf.compat.v1.random.set_random_seed({})",
    ]))
    return [call.format(seed)]


@st.composite
def seed_group(draw: st.DrawFn) -> list[str]:
    """The three-library group, same seed or not, sometimes on one line."""
    seeds = [draw(SEEDS)] * 3 if draw(st.booleans()) else [draw(SEEDS) for _ in range(3)]
    calls = [f"random.seed({seeds[0]})", f"np.random.seed({seeds[1]})", f"tf.set_random_seed({seeds[2]})"]
    calls = draw(st.permutations(calls))
    if draw(st.booleans()):
        return ["; ".join(calls)]
    return list(calls)


THREADS = st.sampled_from(["1", "2", "0", "n", "int(os.environ.get('TF_THREADS', 1))"])
SET_SESSION = st.sampled_from([
    "K.set_session({})", "KTF.set_session({})", "set_session({})", "tf.keras.backend.set_session({})",
    "tf.compat.v1.keras.backend.set_session({})",
])


@st.composite
def session_block(draw: st.DrawFn) -> list[str]:
    proto = draw(st.sampled_from(["tf.ConfigProto", "tf.compat.v1.ConfigProto"]))
    session = draw(st.sampled_from(["tf.Session", "tf.compat.v1.Session", "tf.InteractiveSession"]))
    setter = draw(SET_SESSION)
    lines: list[str] = []
    kind = draw(st.sampled_from(["threads", "growth", "empty", "gpu_options", "fraction"]))
    if kind == "threads":
        lines.append(f"cfg = {proto}(intra_op_parallelism_threads={draw(THREADS)}, "
                     f"inter_op_parallelism_threads={draw(THREADS)})")
    elif kind == "growth":
        lines += [f"cfg = {proto}()", f"cfg.gpu_options.allow_growth = {draw(st.sampled_from(['True', 'False']))}"]
    elif kind == "gpu_options":
        lines.append(f"cfg = {proto}(gpu_options=tf.GPUOptions(allow_growth=True), allow_soft_placement=True)")
    elif kind == "fraction":
        lines += [f"cfg = {proto}()", "cfg.gpu_options.per_process_gpu_memory_fraction = 0.4"]
    else:
        lines.append(f"cfg = {proto}()")
    style = draw(st.sampled_from(["named", "inline", "used_after", "graph"]))
    if style == "named":
        lines += [f"sess = {session}(config=cfg)", setter.format("sess")]
    elif style == "inline":
        lines.append(setter.format(f"{session}(config=cfg)"))
    elif style == "graph":
        lines += [f"sess = {session}(graph=tf.get_default_graph(), config=cfg)", setter.format("sess")]
    else:
        lines += [f"sess = {session}(config=cfg)", setter.format("sess"), "sess.run(init_op)"]
    return lines


@st.composite
def env_write(draw: st.DrawFn) -> list[str]:
    key = draw(st.sampled_from(["TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "PYTHONHASHSEED",
                                "CUDA_VISIBLE_DEVICES", "OTHER_VARIABLE"]))
    value = draw(st.sampled_from(["'1'", "'0'", "'true'", "''", "'-1'", "str(seed)"]))
    form = draw(st.sampled_from(["os.environ[{k!r}] = {v}", "os.environ.setdefault({k!r}, {v})",
                                 "os.environ.update({{{k!r}: {v}}})"]))
    return [form.format(k=key, v=value)]


COMMENT = st.sampled_from(["# for reproducibility", "# Force TensorFlow to use single thread.", "#"])


@st.composite
def boilerplate(draw: st.DrawFn) -> list[str]:
    lines = draw(st.one_of(seed_call(), seed_group(), session_block(), env_write()))
    if draw(st.booleans()):
        lines = [draw(COMMENT), *lines]
    if draw(st.booleans()):
        lines[-1] += "  " + draw(COMMENT)
    return lines


CONTAINERS = {
    "module": ([], 0),
    "function": (["def setup(seed=0, n=1):"], 1),
    "method": (["class Trainer:", "    def reset(self, s=3):"], 2),
    "if": (["if flag:"], 1),
    "for": (["for _ in range(1):"], 1),
    "with": (["with scope():"], 1),
}


@st.composite
def program(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(source, its sentinel lines in order)."""
    head, depth = CONTAINERS[draw(st.sampled_from(sorted(CONTAINERS)))]
    indent = "    " * depth
    body: list[str] = []
    sentinels: list[str] = []
    for i in range(draw(st.integers(1, 4))):
        sentinel = f"{indent}sentinel_{i} = compute({i})  # keep {i}"
        if draw(st.booleans()):
            body.append(sentinel)
            sentinels.append(sentinel)
        body += [indent + line for line in draw(boilerplate())]
    closing = f"{indent}sentinel_end = compute(-1)"
    body.append(closing)
    sentinels.append(closing)
    after = "after_block = compute('after')"
    sentinels.append(after)
    source = HEADER + "\n" + "\n".join([*head, *body]) + "\n" + after + "\n"
    return source, sentinels


def _sentinel_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "sentinel_" in line or line.startswith("after_block")]


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program(), st.booleans())
def test_output_parses_is_idempotent_and_keeps_ordinary_code(case: tuple[str, list[str]], unsafe: bool) -> None:
    source, sentinels = case
    ast.parse(source)  # the generator only makes valid programs
    options = Options(unsafe_fixes=unsafe)
    result = migrate_source(source, options)
    cst.parse_module(result.new)
    ast.parse(result.new)
    assert migrate_source(result.new, options).new == result.new, f"not idempotent:\n{result.new}"
    assert _sentinel_lines(result.new) == sentinels, f"ordinary code changed:\n{source}\n---\n{result.new}"
