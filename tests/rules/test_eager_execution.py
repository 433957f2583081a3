"""TRM010 eager-execution: ``tf.enable_eager_execution()`` removed."""

import importlib.util
import subprocess
import sys

import pytest

from helpers import check_noop, check_transformed, codes
from test_fixtures import tf_env


def test_enable_eager_execution_is_removed_keeping_comments():
    result = check_transformed(
        """
        import tensorflow as tf
        # eager mode for the notebook
        tf.enable_eager_execution()
        x = tf.ones([2])
        """,
        """
        import tensorflow as tf
        # eager mode for the notebook
        x = tf.ones([2])
        """,
    )
    assert codes(result, "safe") == ["TRM010"]


@pytest.mark.parametrize(
    "imports, call",
    [
        ("import tensorflow as tf", "tf.compat.v1.enable_eager_execution()"),
        ("from tensorflow import enable_eager_execution", "enable_eager_execution()"),
        ("import tensorflow.contrib.eager as tfe", "tfe.enable_eager_execution()"),
    ],
)
def test_every_spelling_is_removed(imports, call):
    result = check_transformed(
        f"""
        {imports}
        import numpy as np
        {call}
        print(np.ones(2))
        """,
        # a plain `import tensorflow as tf` stays even when unused (importing runs code)
        ("import tensorflow as tf\n" if imports == "import tensorflow as tf" else "")
        + "import numpy as np\nprint(np.ones(2))\n",
    )
    assert codes(result) == ["TRM010"]


def test_compat_v1_module_import_is_a_compat_v1_file():
    # `from tensorflow.compat import v1` makes the file graph-mode by choice (TRM009): not rewritten.
    result = check_noop(
        """
        from tensorflow.compat import v1
        v1.enable_eager_execution()
        """
    )
    assert "TRM010" not in codes(result)


def test_only_statement_of_a_block_becomes_pass():
    check_transformed(
        """
        import tensorflow as tf
        if not tf.executing_eagerly():
            tf.enable_eager_execution()
        print(tf.executing_eagerly())
        """,
        """
        import tensorflow as tf
        if not tf.executing_eagerly():
            pass
        print(tf.executing_eagerly())
        """,
    )


def test_call_with_arguments_is_reported_not_removed():
    result = check_noop(
        """
        import tensorflow as tf
        tf.enable_eager_execution(config=tf.compat.v1.ConfigProto(log_device_placement=True))
        """
    )
    assert codes(result, "manual") == ["TRM010"]
    assert "tf.config" in result.findings[0].message


def test_look_alikes_are_left_alone():
    result = check_noop(
        """
        import tensorflow as tf
        from mylib import enable_eager_execution
        enable_eager_execution()
        ok = tf.executing_eagerly()
        try:
            tf.enable_eager_execution()
        except AttributeError:
            pass
        if tf.__version__.startswith('1.'):
            tf.enable_eager_execution()
        flag = tf.compat.v1.enable_eager_execution() if LEGACY else None
        """
    )
    assert codes(result) == []


def test_migrated_script_runs_under_tf2(tmp_path):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow not installed")
    result = check_transformed(
        """
        import tensorflow as tf
        tf.enable_eager_execution()
        def main():
            tf.compat.v1.enable_eager_execution()
            print(tf.executing_eagerly(), float(tf.reduce_sum(tf.ones([3]))))
        main()
        """,
        """
        import tensorflow as tf
        def main():
            print(tf.executing_eagerly(), float(tf.reduce_sum(tf.ones([3]))))
        main()
        """,
    )
    script = tmp_path / "eager.py"
    script.write_text(result.new)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=tf_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["True", "3.0"]
