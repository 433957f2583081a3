"""TRM013 seed-without-effect: TF seeds graph mode ignores, reported with the fix; and the claim
"runs differ" measured with real TensorFlow in fresh processes."""

import importlib.util
import subprocess
import sys

import pytest

from helpers import check_noop, check_transformed, codes, migrate
from test_fixtures import tf_env

SEED_THEN_DISABLE = """
import tensorflow as tf
# seed first (a common slip)
tf.compat.v1.set_random_seed(0)
tf.compat.v1.disable_eager_execution()
x = tf.random.uniform([3])
with tf.compat.v1.Session() as sess:
    print(sess.run(x).tolist())
"""

FIXED = """
import tensorflow as tf
# seed first (a common slip)
tf.compat.v1.disable_eager_execution()
tf.compat.v1.set_random_seed(0)
x = tf.random.uniform([3])
with tf.compat.v1.Session() as sess:
    print(sess.run(x).tolist())
"""


def test_seed_before_disable_eager_execution_is_reported_with_an_unsafe_move():
    result = check_noop(SEED_THEN_DISABLE)
    finding = next(f for f in result.findings if f.code == "TRM013")
    assert finding.safety.value == "unsafe" and finding.line == 3
    assert "call tf.compat.v1.disable_eager_execution() first" in finding.message
    assert result.held_back == 1
    check_transformed(SEED_THEN_DISABLE, FIXED, unsafe_fixes=True)


@pytest.mark.parametrize(
    "seed, switch",
    [
        ("tf.random.set_seed(1)", "tf.compat.v1.disable_v2_behavior()"),
        ("keras.utils.set_random_seed(1)", "tf.compat.v1.disable_eager_execution()"),
        ("tf.set_random_seed(1)", "tf.disable_v2_behavior()"),
    ],
)
def test_every_seed_and_switch_spelling(seed, switch):
    result = migrate(f"import keras\nimport tensorflow as tf\n{seed}\n{switch}\n")
    assert "TRM013" in codes(result, "unsafe")


def test_seed_in_a_one_line_suite_is_reported_without_a_fix():
    result = check_noop(
        """
        import tensorflow.compat.v1 as tf
        tf.set_random_seed(0); tf.disable_v2_behavior()
        """,
        unsafe_fixes=True,
    )
    assert "TRM013" in codes(result, "manual")


def test_seed_after_the_switch_is_fine():
    result = check_noop(
        """
        import tensorflow as tf
        tf.compat.v1.disable_eager_execution()
        tf.compat.v1.set_random_seed(0)
        x = tf.random.uniform([3])
        """
    )
    assert "TRM013" not in codes(result)


def test_seed_after_the_graphs_random_ops():
    result = check_noop(
        """
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        w = tf.get_variable('w', [2, 2])
        noise = tf.random_uniform([2])
        tf.set_random_seed(1)
        """
    )
    finding = next(f for f in result.findings if f.code == "TRM013")
    assert "after the random op tf.get_variable() on line 3" in finding.message


def test_seed_after_ops_inside_a_graph_block():
    result = migrate(
        """
        import tensorflow as tf
        g = tf.Graph()
        with g.as_default():
            x = tf.random.normal([2])
            tf.compat.v1.set_random_seed(1)
        """
    )
    assert "TRM013" in codes(result, "manual")


def test_seed_after_a_restore():
    result = check_noop(
        """
        import tensorflow as tf
        tf.compat.v1.disable_eager_execution()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, 'model.ckpt')
            tf.compat.v1.set_random_seed(1)
        meta = tf.compat.v1.train.import_meta_graph('m.meta')
        tf.compat.v1.set_random_seed(2)
        """
    )
    messages = [f.message for f in result.findings if f.code == "TRM013"]
    assert len(messages) == 2
    assert "restored with saver.restore()" in messages[0]
    assert "restored with tf.compat.v1.train.import_meta_graph()" in messages[1]


def test_reset_or_clear_session_after_the_seed_in_graph_mode():
    result = check_noop(
        """
        import tensorflow as tf
        from keras import backend as K
        tf.compat.v1.disable_eager_execution()
        tf.compat.v1.set_random_seed(1)
        K.clear_session()

        def rebuild():
            tf.compat.v1.set_random_seed(2)
            tf.compat.v1.reset_default_graph()
        """
    )
    messages = [f.message for f in result.findings if f.code == "TRM013"]
    assert len(messages) == 2
    assert "K.clear_session() on line 5" in messages[0] and "set the seed again after it" in messages[0]
    assert "tf.compat.v1.reset_default_graph() on line 9" in messages[1]


def test_eager_look_alikes_are_not_reported():
    # Eager TF2: ops drawn before the seed are ordinary, and clear_session keeps the seed (measured).
    result = migrate(
        """
        import tensorflow as tf
        import keras
        x = tf.random.uniform([2])
        tf.random.set_seed(1)
        keras.backend.clear_session()
        rng_saver = object()
        rng_saver.restore()
        tf.random.set_seed(2)
        """
    )
    assert "TRM013" not in codes(result)


def _run(script, tmp_path, name):
    path = tmp_path / name
    path.write_text(script)
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=tf_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_runs_differ_before_the_fix_and_agree_after(tmp_path):
    """The claim in the message, measured: two fresh processes each."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow not installed")
    fixed = migrate(SEED_THEN_DISABLE.lstrip(), unsafe_fixes=True).new
    before = [_run(SEED_THEN_DISABLE, tmp_path, f"before{i}.py") for i in range(2)]
    after = [_run(fixed, tmp_path, f"after{i}.py") for i in range(2)]
    assert before[0] != before[1], before
    assert after[0] == after[1], after
