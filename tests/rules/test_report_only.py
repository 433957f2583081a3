"""TRM006 / TRM007 / TRM008 / TRM009: findings that report, and the fixes they allow."""

from helpers import check_noop, check_transformed, codes, migrate


# -- TRM006 pythonhashseed -------------------------------------------------------------------------

def test_pythonhashseed_in_script_is_reported_and_kept():
    result = check_noop(
        """
        import os
        os.environ['PYTHONHASHSEED'] = '0'
        os.environ.update({'PYTHONHASHSEED': str(seed)})
        """
    )
    assert codes(result) == ["TRM006", "TRM006"]
    assert "before launch" in result.findings[0].message


def test_commented_pythonhashseed_is_not_reported():
    result = check_noop(
        """
        import os
        class Config:
            # os.environ['PYTHONHASHSEED'] = '0'
            pass
        """
    )
    assert codes(result) == []


# -- TRM007 cuda-visible-devices -----------------------------------------------------------------------

def test_hiding_gpus_is_reported_with_an_unsafe_removal():
    source = """
        import os
        os.environ['CUDA_DEVICE_ORDER'] = 'PCI_BUS_ID'
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
        import tensorflow as tf
        """
    result = check_noop(source)
    assert codes(result, "unsafe") == ["TRM007"] and result.held_back == 1
    check_transformed(
        source,
        """
        import os
        os.environ['CUDA_DEVICE_ORDER'] = 'PCI_BUS_ID'
        import tensorflow as tf
        """,
        unsafe_fixes=True,
    )


def test_hiding_gpus_message_states_the_effect_and_assumes_no_reason():
    # GPUs are hidden for CPU workers and tests as often as for reproducibility: the message
    # says what the line does and when removing it is right, not why it was written.
    result = check_noop(
        """
        import os
        import tensorflow as tf
        os.environ['CUDA_VISIBLE_DEVICES'] = '-1'
        os.environ.update({'CUDA_VISIBLE_DEVICES': '', 'TF_CPP_MIN_LOG_LEVEL': '3'})
        """
    )
    removable, by_hand = result.findings
    for finding in (removable, by_hand):
        assert finding.code == "TRM007"
        assert "to get reproducible runs" not in finding.message
        assert "every GPU is hidden from TensorFlow: it runs on the CPU" in finding.message
        assert "enable_op_determinism()" in finding.message
    assert removable.safety.value == "unsafe" and removable.message.endswith(
        "if the GPUs were hidden only for reproducibility, removing the line is offered as an unsafe fix")
    assert by_hand.safety.value == "manual" and by_hand.message.endswith(
        "if the GPUs were hidden only for reproducibility, remove 'CUDA_VISIBLE_DEVICES' from this call")


def test_device_selection_is_not_touched():
    result = check_noop(
        """
        import os
        import tensorflow as tf
        os.environ['CUDA_VISIBLE_DEVICES'] = '0'
        os.environ['CUDA_VISIBLE_DEVICES'] = args.gpu
        os.environ['CUDA_VISIBLE_DEVICES'] = str(FLAGS.gpu)
        """,
        unsafe_fixes=True,
    )
    assert codes(result) == []


def test_launcher_without_tensorflow_is_not_touched():
    result = check_noop(
        """
        import os, subprocess
        os.environ['CUDA_VISIBLE_DEVICES'] = '-1'
        subprocess.run(['python', 'worker.py'])
        """,
        unsafe_fixes=True,
    )
    assert codes(result) == []


# -- TRM008 per-graph-seed -------------------------------------------------------------------------------

def test_seed_inside_graph_is_reported_and_renamed_to_compat_v1():
    result = check_transformed(
        """
        import tensorflow as tf
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(21)
        """,
        """
        import tensorflow as tf
        g = tf.Graph()
        with g.as_default():
            tf.compat.v1.set_random_seed(21)
        """,
    )
    assert codes(result, "manual") == ["TRM008"]


def test_seed_after_reset_default_graph_is_reported():
    result = migrate(
        """
        import tensorflow as tf
        import numpy as np
        import random

        def reset_graph(seed=42):
            tf.reset_default_graph()
            tf.set_random_seed(seed)
            np.random.seed(seed)
            random.seed(seed)
        """
    )
    # TRM011: tf.reset_default_graph itself is TF1-only
    assert codes(result, "manual") == ["TRM011", "TRM008"]
    assert "tf.compat.v1.set_random_seed(seed)" in result.new
    assert "keras.utils" not in result.new


# -- TRM009 compat-v1-file -----------------------------------------------------------------------------

def test_compat_v1_alias_file_is_reported_not_rewritten():
    result = check_noop(
        """
        import tensorflow.compat.v1 as tf
        tf.set_random_seed(1)
        sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1))
        """
    )
    assert codes(result) == ["TRM009"]


def test_disable_v2_behavior_file_is_reported_not_rewritten():
    result = check_noop(
        """
        import tensorflow as tf
        tf.compat.v1.disable_v2_behavior()
        tf.compat.v1.set_random_seed(1)
        """
    )
    assert codes(result) == ["TRM009"]


def test_compat_v1_file_still_gets_report_only_findings():
    result = check_noop(
        """
        import os
        from tensorflow.compat import v1 as tf
        os.environ['PYTHONHASHSEED'] = '0'
        """
    )
    assert codes(result) == ["TRM009", "TRM006"]


def test_suppression_comment_keeps_a_line():
    result = check_noop(
        """
        import tensorflow as tf
        tf.set_random_seed(1)  # tf-repro-migrate: ignore
        """
    )
    assert codes(result) == []
    result = migrate(
        """
        import tensorflow as tf
        tf.set_random_seed(1)  # tf-repro-migrate: ignore[TRM003]
        """
    )
    assert codes(result) == ["TRM001"]


def test_suppressed_line_is_not_removed_by_a_consolidation():
    result = check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(1)
        np.random.seed(1)
        tf.set_random_seed(1)  # tf-repro-migrate: ignore
        """,
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(1)
        np.random.seed(1)
        tf.set_random_seed(1)  # tf-repro-migrate: ignore
        """,
    )
    assert codes(result) == []
