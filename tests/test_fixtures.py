"""Whole-file fixture pairs: tests/fixtures/<case>.in.py migrates to <case>.out.py.

Adding a case is adding two files. A fixture whose first line is
``# fixture: runnable`` is also executed, after migration, under the installed
TensorFlow 2 / Keras 3 in a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tf_repro_migrate.engine import migrate_source

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.name[: -len(".in.py")] for p in FIXTURES.glob("*.in.py"))
RUNNABLE = [c for c in CASES if (FIXTURES / f"{c}.in.py").read_text().startswith("# fixture: runnable")]


def tf_env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1", PYTHONHASHSEED="0")
    return env


@pytest.mark.parametrize("case", CASES)
def test_fixture_pair(case):
    before = (FIXTURES / f"{case}.in.py").read_text()
    expected = (FIXTURES / f"{case}.out.py").read_text()
    result = migrate_source(before)
    assert result.new == expected
    assert migrate_source(result.new).new == result.new, "second run must change nothing"


def test_every_seed_document_recipe_has_a_fixture():
    assert {"keras_faq", "set_seed_helper", "tf2_keras_example", "gpu_memory_session",
            "compat_v1_spellings", "graph_mode_session"} <= set(CASES)


def test_tf2_example_is_a_noop():
    text = (FIXTURES / "tf2_keras_example.in.py").read_text()
    assert migrate_source(text).new == text


@pytest.mark.parametrize("case", RUNNABLE)
def test_migrated_fixture_runs_under_tf2(case, tmp_path):
    pytest.importorskip("tensorflow")
    script = tmp_path / f"{case}.py"
    script.write_text((FIXTURES / f"{case}.out.py").read_text())
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=tf_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
