"""Faithful on real code: every migrated output runs on TF 2.x, keeps the random streams the
original seeded, and is reproducible under Keras 3.

Each shape is migrated with the real engine; its output text is checked, and then it is
*executed* under the installed TensorFlow 2 / Keras 3 in fresh processes with a probe
appended that reads the state back: the first ``random.random()``, ``np.random.rand()`` and
``tf.random.uniform`` after the set-up, Keras' backend, and a digest of a small Keras
model's initial weights. Two fresh runs of the migrated program must agree on all of them
(Keras 3 seeds initializers from Python's ``random``), and every stream that the original
program seeds (it agrees with itself across two runs, run on TF2 through ``tf.compat.v1``)
must give the same first value after migration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import check_transformed, codes, migrate

PROBE = """

# -- probe (tests/test_faithful.py) --
import json as _json, hashlib as _hashlib, random as _random
import numpy as _np
import tensorflow as _tf
_state = {"random": _random.random(), "numpy": float(_np.random.rand()),
          "tf": float(_tf.random.uniform([1])[0].numpy())}
import keras as _keras
_model = _keras.Sequential([_keras.Input((3,)), _keras.layers.Dense(4), _keras.layers.Dropout(0.5),
                            _keras.layers.Dense(2)])
_digest = _hashlib.sha256()
for _w in _model.get_weights():
    _digest.update(_np.ascontiguousarray(_w).tobytes())
_state["weights"] = _digest.hexdigest()
_state["max_epochs"] = _keras.config.max_epochs()  # read from KERAS_MAX_EPOCHS when Keras is imported
print("STATE" + _json.dumps(_state))
"""


def _run(program: str, tmp: Path, name: str) -> dict[str, object]:
    script = tmp / f"{name}.py"
    script.write_text(program + PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_") and k != "PYTHONHASHSEED"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, f"{name} failed:\n{program}\n{proc.stderr[-3000:]}"
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("STATE"))
    return json.loads(line[len("STATE"):])


def _runs(programs: dict[str, str], tmp: Path) -> dict[str, dict[str, object]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_run, text, tmp, name) for name, text in programs.items()}
        return {name: f.result() for name, f in futures.items()}


def _tf2_original(source: str) -> str:
    """The original, runnable on TF 2 with the TF1 seed spelled through ``tf.compat.v1``
    (which in eager mode sets the same global seed): the reference for the streams."""
    return (source.replace("from tensorflow import set_random_seed", "from tensorflow.compat.v1 import set_random_seed")
            .replace("tf.set_random_seed(", "tf.compat.v1.set_random_seed("))


# Each shape: the TF1 source, and the migrated text the engine must produce.
SHAPES: dict[str, tuple[str, str]] = {
    # PATTERNS 22: from-imports seed above the plain import; `tf` is bound only at the end.
    "from_imports_above_plain_import": (
        """
        from numpy.random import seed
        seed(1)
        from tensorflow import set_random_seed
        set_random_seed(2)
        import tensorflow as tf
        """,
        """
        from numpy.random import seed
        import random

        seed(1)
        import tensorflow as tf
        tf.random.set_seed(2)
        random.seed(2)
        import tensorflow as tf
        """,
    ),
    # PATTERNS 24: Python's random seeded before `import tensorflow`: the calls stay where they are.
    "python_seed_before_tf_import": (
        """
        import random
        random.seed(9)
        import numpy as np
        np.random.seed(9)
        import tensorflow as tf
        tf.set_random_seed(9)
        """,
        """
        import random
        random.seed(9)
        import numpy as np
        np.random.seed(9)
        import tensorflow as tf
        tf.random.set_seed(9)
        """,
    ),
    # Three seeds after the imports, and a setting Keras reads when it is imported, set before the
    # first TF import: a new `import keras` must not go above it.
    "keras_backend_env_before_imports": (
        """
        import os
        os.environ['KERAS_MAX_EPOCHS'] = '3'
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(1)
        np.random.seed(1)
        tf.set_random_seed(1)
        """,
        """
        import os
        os.environ['KERAS_MAX_EPOCHS'] = '3'
        import tensorflow as tf
        import keras
        keras.utils.set_random_seed(1)
        """,
    ),
    # PATTERNS 23: NumPy + TF with one value, Python's random unseeded (Keras 3 needs it).
    "numpy_tf_pair": (
        """
        import numpy as np
        import tensorflow as tf
        np.random.seed(3)
        tf.set_random_seed(3)
        """,
        """
        import tensorflow as tf
        import keras

        keras.utils.set_random_seed(3)
        """,
    ),
    # A TF seed alone.
    "tf_seed_alone": (
        """
        import tensorflow as tf
        tf.set_random_seed(5)
        """,
        """
        import tensorflow as tf
        import random

        tf.random.set_seed(5)
        random.seed(5)
        """,
    ),
    # A function-local import below the call that needs it.
    "function_local_import_below": (
        """
        import numpy as np
        def setup(s):
            np.random.seed(s)
            from tensorflow import set_random_seed
            set_random_seed(s)
            import tensorflow as tf
            return tf
        setup(4)
        """,
        """
        import numpy as np
        import random

        def setup(s):
            np.random.seed(s)
            import tensorflow as tf
            tf.random.set_seed(s)
            random.seed(s)
            import tensorflow as tf
            return tf
        setup(4)
        """,
    ),
    # A seed that may be None: random.seed(seed) is right for None too.
    "helper_seed_may_be_none": (
        """
        import numpy as np
        import tensorflow as tf
        def seed_all(seed=None):
            np.random.seed(seed)
            tf.set_random_seed(seed)
        seed_all(7)
        """,
        """
        import numpy as np
        import tensorflow as tf
        import random

        def seed_all(seed=None):
            np.random.seed(seed)
            tf.random.set_seed(seed)
            random.seed(seed)
        seed_all(7)
        """,
    ),
    # `import keras` sits below the seeds it is needed for.
    "keras_imported_below_the_seeds": (
        """
        import numpy as np
        import tensorflow as tf
        np.random.seed(1)
        tf.set_random_seed(1)
        import keras
        """,
        """
        import tensorflow as tf
        import keras
        keras.utils.set_random_seed(1)
        import keras
        """,
    ),
    # The Keras FAQ's different seeds per library: nothing merges, Python's random is seeded.
    "keras_faq_seeds": (
        """
        import numpy as np
        import tensorflow as tf
        import random as rn
        np.random.seed(42)
        rn.seed(12345)
        tf.set_random_seed(1234)
        """,
        """
        import numpy as np
        import tensorflow as tf
        import random as rn
        np.random.seed(42)
        rn.seed(12345)
        tf.random.set_seed(1234)
        """,
    ),
    # A seeding helper with an int default.
    "seeding_helper": (
        """
        import random
        import numpy as np
        import tensorflow as tf
        def seed_everything(s=0):
            random.seed(s)
            np.random.seed(s)
            tf.set_random_seed(s)
        seed_everything(11)
        """,
        """
        import tensorflow as tf
        import keras

        def seed_everything(s=0):
            keras.utils.set_random_seed(s)
        seed_everything(11)
        """,
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_output_text(shape):
    before, after = SHAPES[shape]
    check_transformed(before, after)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every shape's original (through tf.compat.v1) and migrated output, each run twice."""
    pytest.importorskip("tensorflow")
    tmp = tmp_path_factory.mktemp("faithful")
    programs: dict[str, str] = {}
    for shape, (before, _) in SHAPES.items():
        source = textwrap.dedent(before).lstrip("\n")
        migrated = migrate(before).new
        for run in (1, 2):
            programs[f"{shape}__original{run}"] = _tf2_original(source)
            programs[f"{shape}__migrated{run}"] = migrated
    return _runs(programs, tmp)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_migrated_output_runs_and_is_reproducible_under_keras3(shape, executed):
    first, second = executed[f"{shape}__migrated1"], executed[f"{shape}__migrated2"]
    # Keras 3 draws initializer and dropout seeds from Python's random: the weights agree only
    # when the migration seeded it (a NumPy stream the original leaves unseeded may differ).
    assert first["weights"] == second["weights"], f"two fresh runs of the migrated {shape} build other weights"
    assert first["tf"] == second["tf"] and first["random"] == second["random"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_seeded_streams_keep_their_first_values(shape, executed):
    original = executed[f"{shape}__original1"], executed[f"{shape}__original2"]
    migrated = executed[f"{shape}__migrated1"]
    seeded = [k for k in ("random", "numpy", "tf", "max_epochs") if original[0][k] == original[1][k]]
    assert "tf" in seeded  # every shape seeds TensorFlow
    for key in seeded:
        assert migrated[key] == original[0][key], f"{shape}: first {key} value changed by the migration"


def test_unmigrated_keras3_weights_differ_without_python_seed(executed):
    """The fact behind the Keras 3 rule: NumPy + TF seeded, Python's random not: weights differ."""
    first, second = executed["numpy_tf_pair__original1"], executed["numpy_tf_pair__original2"]
    assert first["tf"] == second["tf"] and first["numpy"] == second["numpy"]
    assert first["weights"] != second["weights"]


# -- the rule contract: no rule depends on another's bookkeeping (issue: faithful, class 6) -------

TRIPLE = """
import random
import numpy as np
import tensorflow as tf
random.seed(1); np.random.seed(1); tf.set_random_seed(1)  # tf-repro-migrate: ignore[TRM002]
"""


def test_suppressed_consolidation_still_renames_the_tf1_seed():
    result = check_transformed(
        TRIPLE,
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(1); np.random.seed(1); tf.random.set_seed(1)  # tf-repro-migrate: ignore[TRM002]
        """,
    )
    assert codes(result) == ["TRM001"]


def test_skipping_the_consolidation_renames_the_tf1_seed():
    source = TRIPLE.replace("  # tf-repro-migrate: ignore[TRM002]", "")
    skipped = migrate(source, ignore=frozenset({"TRM002"}))
    assert "tf.random.set_seed(1)" in skipped.new and "set_random_seed" not in skipped.new
    merged = migrate(source)
    assert codes(merged) == ["TRM002"]  # the rename it replaces is not reported twice
    assert "keras.utils.set_random_seed(1)" in merged.new


def test_suppressing_the_rename_keeps_the_line_and_reports_nothing_for_it():
    result = migrate("""
        import tensorflow as tf
        tf.set_random_seed(1)  # tf-repro-migrate: ignore
        """)
    assert result.new == result.old and result.findings == []


# -- --interactive is a consumer of the same pipeline -------------------------------------------

def _interactive(monkeypatch, capsys, answers: str, path: Path) -> tuple[int, str]:
    import io

    from tf_repro_migrate.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    code = main(["--interactive", str(path)])
    return code, capsys.readouterr()[0]


def test_declining_the_consolidation_offers_the_rename(tmp_path, monkeypatch, capsys):
    f = tmp_path / "seeds.py"
    f.write_text(TRIPLE.replace("  # tf-repro-migrate: ignore[TRM002]", "").lstrip())
    code, out = _interactive(monkeypatch, capsys, "n\ny\n", f)
    assert out.count("Apply this change?") == 2
    assert "TRM002" in out and "TRM001" in out
    assert f.read_text() == (
        "import random\nimport numpy as np\nimport tensorflow as tf\n"
        "random.seed(1); np.random.seed(1); tf.random.set_seed(1)\n"
    )


def test_accepting_the_consolidation_does_not_ask_about_the_rename_inside_it(tmp_path, monkeypatch, capsys):
    f = tmp_path / "seeds.py"
    f.write_text(TRIPLE.replace("  # tf-repro-migrate: ignore[TRM002]", "").lstrip())
    code, out = _interactive(monkeypatch, capsys, "y\n", f)
    assert out.count("Apply this change?") == 1
    assert "keras.utils.set_random_seed(1)" in f.read_text()
    assert "set_random_seed(1)" not in f.read_text().replace("keras.utils.set_random_seed(1)", "")


SESSION_BLOCK = """import tensorflow as tf
from keras import backend as K
config = tf.ConfigProto()
config.gpu_options.allow_growth = True
sess = tf.Session(config=config)
K.set_session(sess)
"""


def test_config_and_session_fixes_are_one_change(tmp_path, monkeypatch, capsys):
    f = tmp_path / "gpu.py"
    f.write_text(SESSION_BLOCK)
    code, out = _interactive(monkeypatch, capsys, "n\n", f)
    assert out.count("Apply this change?") == 1  # TRM003 and TRM004 offered together
    assert "TRM003" in out and "TRM004" in out
    assert f.read_text() == SESSION_BLOCK  # declined together: no NameError half-way state
    code, out = _interactive(monkeypatch, capsys, "y\n", f)
    text = f.read_text()
    assert "set_memory_growth" in text and "Session" not in text and "config" not in text.split("for gpu")[0]
    compile(text, str(f), "exec")


def test_skipping_one_half_of_a_bundle_keeps_both(tmp_path):
    result = migrate(SESSION_BLOCK, ignore=frozenset({"TRM004"}))
    assert result.new == result.old


def test_notebook_cells_never_use_tf_before_the_cell_that_imports_it(tmp_path):
    from tf_repro_migrate.cli import main

    cells = [
        ["from numpy.random import seed\n", "seed(1)\n", "from tensorflow import set_random_seed\n",
         "set_random_seed(2)"],
        ["import tensorflow as tf\n", "print(float(tf.random.uniform([1])[0]))"],
    ]
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": c} for c in cells]},
        indent=1))
    assert main(["--write", "--quiet", str(nb)]) in (0, 1)
    sources = ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"]]
    # tf is bound only in the next cell: its import goes just before the new code that uses it.
    assert sources[0] == ("from numpy.random import seed\nimport random\n\nseed(1)\n"
                          "import tensorflow as tf\ntf.random.set_seed(2)\nrandom.seed(2)")
    program = "\n".join(sources) + "\n"
    pytest.importorskip("tensorflow")
    first, second = (_run(program, tmp_path, f"nb{i}") for i in (1, 2))
    assert first["weights"] == second["weights"] and first["tf"] == second["tf"]


def test_a_line_an_import_goes_after_keeps_its_trailing_spaces():
    result = migrate("import tensorflow as tf  \ntf.set_random_seed(1)\n")
    assert result.new == "import tensorflow as tf  \nimport random\n\ntf.random.set_seed(1)\nrandom.seed(1)\n"
