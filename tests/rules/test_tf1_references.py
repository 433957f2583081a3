"""TRM012 tf1-references: non-call references to the TF1-only names we migrate -> tf.compat.v1."""

import importlib.util
import subprocess
import sys

import pytest

from helpers import check_noop, check_transformed, codes
from test_fixtures import tf_env


def test_annotation_default_and_isinstance_are_renamed():
    result = check_transformed(
        """
        import tensorflow as tf

        def run(sess: tf.Session = None, config: "tf.ConfigProto" = None, cls=tf.InteractiveSession):
            if isinstance(sess, tf.Session):
                return sess
            return cls
        """,
        """
        import tensorflow as tf

        def run(sess: tf.compat.v1.Session = None, config: "tf.ConfigProto" = None, cls=tf.compat.v1.InteractiveSession):
            if isinstance(sess, tf.compat.v1.Session):
                return sess
            return cls
        """,
    )
    assert codes(result) == ["TRM012", "TRM012", "TRM012"]


def test_aliases_and_attribute_chains():
    check_transformed(
        """
        import tensorflow as tf
        Options = tf.GPUOptions
        seed_fn = tf.set_random_seed
        run = tf.Session.run
        """,
        """
        import tensorflow as tf
        Options = tf.compat.v1.GPUOptions
        seed_fn = tf.compat.v1.set_random_seed
        run = tf.compat.v1.Session.run
        """,
    )


def test_bare_name_from_import_goes_through_the_module():
    check_transformed(
        """
        from tensorflow import Session

        def close(sess: Session) -> None:
            sess.close()
        """,
        """
        import tensorflow as tf

        def close(sess: tf.compat.v1.Session) -> None:
            sess.close()
        """,
    )


def test_calls_compat_names_and_gated_code_are_not_ours():
    result = check_noop(
        """
        import tensorflow as tf
        def run(sess: tf.compat.v1.Session = None):
            pass
        class Session:
            pass
        def local(s: Session):
            pass
        try:
            Sess = tf.Session
        except AttributeError:
            Sess = tf.compat.v1.Session
        """
    )
    assert "TRM012" not in codes(result)


def test_session_kept_with_annotated_helper_runs_under_tf2(tmp_path):
    """The graph-mode file of PATTERNS 28: the session is kept (renamed by TRM004) and the
    annotated helper loads on TF2."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow not installed")
    result = check_transformed(
        """
        import tensorflow as tf

        def run(sess: tf.Session = None):
            assert isinstance(sess, tf.Session)
            return sess.run(tf.constant(3.0))

        graph = tf.Graph()
        with graph.as_default():
            sess = tf.Session(graph=graph)
            print(run(sess))
        """,
        """
        import tensorflow as tf

        def run(sess: tf.compat.v1.Session = None):
            assert isinstance(sess, tf.compat.v1.Session)
            return sess.run(tf.constant(3.0))

        graph = tf.Graph()
        with graph.as_default():
            sess = tf.compat.v1.Session(graph=graph)
            print(run(sess))
        """,
    )
    script = tmp_path / "graph_mode.py"
    script.write_text(result.new)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=tf_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "3.0"


def test_compat_v1_files_are_left_to_trm009():
    result = check_noop(
        """
        import tensorflow as tf
        tf.compat.v1.disable_eager_execution()
        def run(sess: tf.Session = None):
            pass
        """
    )
    assert "TRM012" not in codes(result)


def test_optional_import_shim_names_are_variables_not_tf1_names():
    result = check_noop(
        """
        import tensorflow as tf
        try:
            from tensorflow import Session
        except ImportError:
            Session = None
        def make(cls=Session):
            return cls
        """
    )
    assert "TRM012" not in codes(result)
