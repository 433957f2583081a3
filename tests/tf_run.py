"""Run a migrated program under the installed TensorFlow 2 in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# TF has no public reader of the op-determinism flag; tensorflow.python.framework.config holds it.
STATE = ("from tensorflow.python.framework import config as _c\n"
         "print('STATE', _c.is_op_determinism_enabled(), "
         "tf.config.threading.get_intra_op_parallelism_threads(), "
         "tf.config.threading.get_inter_op_parallelism_threads())\n")


def run_tf(code: str, tmp_path: Path, *args: str, prefix: str = "STATE") -> list[str]:
    """Run ``code`` with ``args`` on the CPU (timeout 240 s); the lines it printed that
    start with ``prefix``. Fails with the end of stderr when the program fails."""
    pytest.importorskip("tensorflow")
    script = tmp_path / "migrated.py"
    script.write_text(code)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    proc = subprocess.run([sys.executable, str(script), *args], check=False, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [line for line in proc.stdout.splitlines() if line.startswith(prefix)]
