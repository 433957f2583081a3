"""Overhead of ``tf-repro-migrate verify --runs 2`` over two plain runs.

Usage::

    python bench/verify_overhead.py [--repeats 3] [--epochs 4] [--samples 20000]

It writes a small but non-trivial, seeded Keras training script into a
temporary directory, then measures (alternating, ``--repeats`` times each):

* plain: ``python train.py`` twice, one after the other;
* verify: ``python -m tf_repro_migrate.verify.cli train.py --runs 2``.

and prints the median wall times and their ratio (target: under 1.10x).  The
script is seeded and uses op determinism, so verify does not add its
diagnostic PYTHONHASHSEED re-run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_SRC = Path(__file__).resolve().parents[1] / "src"

TRAIN_SCRIPT = '''
import sys
import numpy as np
import keras
import tensorflow as tf

keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
samples, epochs = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.RandomState(0)
x = rng.normal(size=(samples, 32)).astype("float32")
y = (np.sin(x[:, :4]).sum(axis=1) > 0).astype("int32")
model = keras.Sequential([
    keras.Input(shape=(32,)),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(2, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=64, epochs=epochs, validation_split=0.1, verbose=0)
print("final", model.evaluate(x[:1000], y[:1000], verbose=0))
'''


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    # Same log level in both arms: verify sets it for its runs.
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_SRC)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _timed(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=20000)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "train.py").write_text(TRAIN_SCRIPT)
        args = [str(ns.samples), str(ns.epochs)]
        plain_cmd = [sys.executable, "train.py", *args]
        verify_cmd = [sys.executable, "-m", "tf_repro_migrate.verify.cli", "train.py", "--runs", "2", "--", *args]
        plain, verify = [], []
        for i in range(ns.repeats):
            plain.append(_timed(plain_cmd, workdir) + _timed(plain_cmd, workdir))
            verify.append(_timed(verify_cmd, workdir))
            print(f"repeat {i + 1}: plain x2 {plain[-1]:.2f}s, verify --runs 2 {verify[-1]:.2f}s", flush=True)
    p, v = statistics.median(plain), statistics.median(verify)
    print(f"median: plain x2 {p:.2f}s, verify --runs 2 {v:.2f}s, ratio {v / p:.3f}x (target < 1.10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
