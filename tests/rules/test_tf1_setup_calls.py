"""TRM011 tf1-setup-calls: TF1-only set-up calls get a manual finding with the TF2 spelling."""

import importlib.util
import subprocess
import sys

import pytest

from helpers import check_noop, codes
from test_fixtures import tf_env


def test_set_verbosity_gets_the_tf2_logger_spelling():
    result = check_noop(
        """
        import tensorflow as tf
        tf.logging.set_verbosity(tf.logging.ERROR)
        tf.set_random_seed(1)  # tf-repro-migrate: ignore
        """
    )
    assert codes(result) == ["TRM011"]
    message = result.findings[0].message
    assert "tf.get_logger().setLevel('ERROR')" in message
    assert "tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)" in message


def test_other_logging_calls_and_spellings():
    result = check_noop(
        """
        import tensorflow
        from tensorflow import logging as tflog
        tensorflow.logging.info('start')
        tflog.warn('careful')
        tensorflow.logging.set_verbosity(level)
        """
    )
    assert codes(result) == ["TRM011", "TRM011", "TRM011"]
    info, warn, verbosity = (f.message for f in result.findings)
    assert "tf.get_logger().info(...)" in info
    assert "tf.get_logger().warning(...)" in warn and "tf.compat.v1.logging.warn(...)" in warn
    assert "setLevel(<level>)" in verbosity


def test_keras_available_gpus():
    result = check_noop(
        """
        from keras import backend as K
        import keras.backend.tensorflow_backend as tfback
        gpus = K.tensorflow_backend._get_available_gpus()
        n = len(tfback._get_available_gpus())
        """
    )
    assert codes(result) == ["TRM011", "TRM011"]
    assert "[d.name for d in tf.config.list_logical_devices('GPU')]" in result.findings[0].message


def test_reset_default_graph_and_default_behaviour_switches():
    result = check_noop(
        """
        import tensorflow as tf
        tf.enable_resource_variables()
        tf.reset_default_graph()
        """
    )
    assert codes(result) == ["TRM011", "TRM011"]
    assert "remove the call" in result.findings[0].message
    assert "keras.backend.clear_session()" in result.findings[1].message


def test_look_alikes_are_not_reported():
    result = check_noop(
        """
        import logging
        import tensorflow as tf
        logging.info('x')
        tf.get_logger().setLevel('INFO')
        tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)
        tf.compat.v1.reset_default_graph()
        tf.config.list_logical_devices('GPU')
        absl_logging.set_verbosity(absl_logging.INFO)
        try:
            tf.logging.set_verbosity(tf.logging.INFO)
        except AttributeError:
            pass
        """
    )
    assert codes(result) == []


def test_the_suggested_tf2_spellings_run_under_tf2(tmp_path):
    """Every replacement the messages suggest, executed in a fresh TF 2 process."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow not installed")
    script = tmp_path / "suggested.py"
    script.write_text(
        "import tensorflow as tf\n"
        "import keras\n"
        "tf.get_logger().setLevel('ERROR')\n"
        "tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)\n"
        "tf.get_logger().info('x'); tf.get_logger().warning('y')\n"
        "tf.compat.v1.logging.info('x'); tf.compat.v1.logging.warn('y')\n"
        "names = [d.name for d in tf.config.list_logical_devices('GPU')]\n"
        "assert isinstance(names, list)\n"
        "tf.config.list_physical_devices('GPU')\n"
        "keras.backend.clear_session()\n"
        "assert not hasattr(tf, 'logging') and not hasattr(tf, 'reset_default_graph')\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=tf_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
