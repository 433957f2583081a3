"""TRM009 compat-v1-file: graph-mode files, and the TF1-only names left that fail on TF2."""

import importlib.util
import subprocess
import sys

import pytest

from helpers import check_noop, check_transformed, codes, migrate
from test_fixtures import tf_env


def test_disable_eager_file_lists_the_names_that_still_fail():
    result = check_noop(
        """
        import tensorflow as tf
        tf.compat.v1.disable_eager_execution()
        x = tf.placeholder(tf.float32, [None, 2])
        y = tf.layers.dense(x, 1)
        saver = tf.train.Saver()
        z = tf.placeholder(tf.float32)
        ok = tf.compat.v1.placeholder(tf.float32)
        """
    )
    assert codes(result) == ["TRM009"]
    message = result.findings[0].message
    assert "tf.placeholder (lines 3, 6) -> tf.compat.v1.placeholder" in message
    assert "tf.layers.dense (line 4) -> tf.compat.v1.layers.dense" in message
    assert "tf.train.Saver (line 5) -> tf.compat.v1.train.Saver" in message
    assert "tf_upgrade_v2" in message
    assert "valid on TF2" not in message


def test_compat_v1_alias_file_with_only_valid_names_keeps_its_message():
    result = check_noop(
        """
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        x = tf.placeholder(tf.float32)
        sess = tf.Session()
        """
    )
    assert codes(result) == ["TRM009"]
    assert "valid on TF2" in result.findings[0].message


def test_migrated_file_lists_the_names_no_rule_handles():
    result = migrate(
        """
        import tensorflow as tf
        from tensorflow.contrib import slim
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32)
        net = slim.fully_connected(x, 2)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
        """
    )
    trm009 = [f for f in result.findings if f.code == "TRM009"]
    assert len(trm009) == 1 and trm009[0].line == 2
    message = trm009[0].message
    assert "tf.contrib.slim (lines 2, 5): removed in TF2" in message
    assert "tf.placeholder (line 4) -> tf.compat.v1.placeholder" in message
    assert "tf.global_variables_initializer (line 7)" in message
    # the names other rules migrate are not listed again
    assert "tf.Session" not in message and "set_random_seed" not in message
    assert "tf.compat.v1.Session()" in result.new and "tf.compat.v1.set_random_seed(1)" in result.new


def test_files_with_no_tf1_only_names_left_get_no_listing():
    result = check_transformed(
        """
        import tensorflow as tf
        tf.set_random_seed(1)
        x = tf.random.uniform([2])
        tf.logging.set_verbosity(tf.logging.INFO)
        """,
        """
        import tensorflow as tf
        import random

        tf.random.set_seed(1)
        random.seed(1)
        x = tf.random.uniform([2])
        tf.logging.set_verbosity(tf.logging.INFO)
        """,
    )
    assert codes(result) == ["TRM001", "TRM011"]


def test_local_look_alikes_are_not_listed():
    result = migrate(
        """
        import tensorflow as tf
        from mylib import placeholder
        tf.set_random_seed(1)
        x = placeholder()
        class train:
            Saver = None
        s = train.Saver
        """
    )
    assert "TRM009" not in codes(result)


def test_long_listings_are_cut():
    names = "\n".join(f"v{i} = tf.placeholder(tf.float32)" for i in range(8))
    result = check_noop(f"import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()\n{names}\n")
    assert "tf.placeholder (lines 3, 4, 5, 6, 7, ...)" in result.findings[0].message


def test_the_listed_spellings_run_under_tf2(tmp_path):
    """What the finding tells the user to write: the file runs once the listed names are renamed."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow not installed")
    source = """
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
tf.compat.v1.set_random_seed(0)
x = tf.placeholder(tf.float32, [None, 2])
w = tf.get_variable("w", [2, 1])
y = tf.matmul(x, w)
init = tf.global_variables_initializer()
with tf.compat.v1.Session() as sess:
    sess.run(init)
    print(sess.run(y, {x: [[1.0, 2.0]]}).shape)
"""
    result = migrate(source.lstrip())
    message = result.findings[0].message
    fixed = result.new
    for name in ("placeholder", "get_variable", "global_variables_initializer"):
        assert f"tf.{name} (line" in message and f"-> tf.compat.v1.{name}" in message
        fixed = fixed.replace(f"tf.{name}(", f"tf.compat.v1.{name}(")
    before, after = tmp_path / "before.py", tmp_path / "after.py"
    before.write_text(result.new)
    after.write_text(fixed)
    runs = [subprocess.run([sys.executable, str(p)], cwd=tmp_path, env=tf_env(), capture_output=True,
                           text=True, timeout=300) for p in (before, after)]
    assert runs[0].returncode != 0 and "placeholder" in runs[0].stderr  # not "keeps running"
    assert runs[1].returncode == 0, runs[1].stderr[-3000:]
    assert runs[1].stdout.strip() == "(1, 1)"


def test_shims_and_guarded_imports_are_not_listed():
    result = migrate(
        """
        import tensorflow as tf
        try:
            from tensorflow.contrib import slim
        except ImportError:
            slim = None
        tf.set_random_seed(1)
        if tf.__version__.startswith('1.'):
            x = tf.placeholder(tf.float32)
        try:
            y = tf.placeholder(tf.float32)
        except AttributeError:
            y = None
        """
    )
    assert "TRM009" not in codes(result)


def test_a_migrated_name_no_fix_reaches_is_listed():
    result = migrate(
        """
        import tensorflow as tf

        def run(sess=None, config=tf.ConfigProto(), opts=tf.GPUOptions(), make=tf.Session):
            return sess or make(config=config)
        """
    )
    listing = [f.message for f in result.findings if f.code == "TRM009"]
    assert len(listing) == 1 and "tf.GPUOptions (line 3) -> tf.compat.v1.GPUOptions" in listing[0]
    assert "tf.ConfigProto" not in listing[0] and "tf.Session" not in listing[0]


def test_names_with_a_compat_v1_fallback_are_not_listed():
    result = migrate(
        """
        try:
            import tensorflow.compat.v1 as tf1
        except ImportError:
            import tensorflow as tf1
        import tensorflow as tf
        tf.random.set_seed(1)
        x = tf1.placeholder(tf.float32)
        """
    )
    # a compat.v1 file (the alias), whose only TF1 name also resolves to tf.compat.v1
    assert [f.message for f in result.findings if f.code == "TRM009"] == [
        "file runs TF1 graph code through tensorflow.compat.v1 by choice: its TF1 names are valid on TF2 and are "
        "left as they are; port it to TF2 by hand if you want TF2 idioms"
    ]
