"""TRM005: emit enable_op_determinism() once, next to the seeding, where determinism was asked for."""

import pytest

from helpers import check_noop, check_transformed, codes, migrate


@pytest.mark.parametrize(
    "switch",
    [
        "os.environ['TF_DETERMINISTIC_OPS'] = '1'",
        'os.environ["TF_CUDNN_DETERMINISTIC"] = "true"',
        "os.environ['TF_DETERMINISTIC_OPS'] = 'True'",
        "os.environ.setdefault('TF_DETERMINISTIC_OPS', '1')",
        "os.environ.update({'TF_DETERMINISTIC_OPS': '1'})",
        "os.environ.update(TF_DETERMINISTIC_OPS='1')",
        "os.putenv('TF_DETERMINISTIC_OPS', '1')",
    ],
)
def test_env_switch_emits_the_call_after_the_seed(switch):
    check_transformed(
        f"""
        import os
        {switch}
        import tensorflow as tf
        tf.random.set_seed(3)
        model = make()
        """,
        f"""
        import os
        {switch}
        import tensorflow as tf
        tf.random.set_seed(3)
        tf.config.experimental.enable_op_determinism()
        model = make()
        """,
    )


def test_env_switch_off_is_not_a_request():
    check_noop(
        """
        import os
        os.environ['TF_DETERMINISTIC_OPS'] = '0'
        import tensorflow as tf
        tf.random.set_seed(3)
        """
    )


def test_tfdeterminism_patch_is_replaced():
    check_transformed(
        """
        import tensorflow as tf
        from tfdeterminism import patch
        patch()
        tf.set_random_seed(1)
        """,
        """
        import tensorflow as tf
        import random

        tf.random.set_seed(1)
        random.seed(1)
        tf.config.experimental.enable_op_determinism()
        """,
    )


def test_emitted_once_for_several_signals_and_not_again_when_present():
    result = check_transformed(
        """
        import os
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        os.environ['TF_CUDNN_DETERMINISTIC'] = '1'
        import tensorflow as tf
        tf.random.set_seed(3)
        """,
        """
        import os
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        os.environ['TF_CUDNN_DETERMINISTIC'] = '1'
        import tensorflow as tf
        tf.random.set_seed(3)
        tf.config.experimental.enable_op_determinism()
        """,
    )
    assert codes(result) == ["TRM005"]


def test_without_a_seed_the_call_is_an_unsafe_fix_after_the_tf_import():
    source = """
        import os
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        import numpy as np
        import tensorflow as tf
        x = tf.ones([2])
        """
    result = check_noop(source)
    assert codes(result, "unsafe") == ["TRM005"] and result.held_back == 1
    check_transformed(
        source,
        """
        import os
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        import numpy as np
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
        x = tf.ones([2])
        """,
        unsafe_fixes=True,
    )


def test_multi_threaded_config_is_not_a_request():
    result = migrate(
        """
        import tensorflow as tf
        cfg = tf.ConfigProto(intra_op_parallelism_threads=4, inter_op_parallelism_threads=1)
        sess = tf.Session(config=cfg)
        tf.set_random_seed(1)
        """
    )
    assert "TRM005" not in codes(result)
    assert "enable_op_determinism" not in result.new


def test_device_selection_env_is_not_a_request():
    check_noop(
        """
        import os
        os.environ['CUDA_VISIBLE_DEVICES'] = '0'
        import tensorflow as tf
        tf.random.set_seed(1)
        """
    )
