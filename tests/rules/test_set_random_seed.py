"""TRM001: tf.set_random_seed and its spellings -> tf.random.set_seed."""

import pytest

from helpers import check_noop, check_transformed, codes


@pytest.mark.parametrize(
    "call",
    [
        "tf.set_random_seed",
        "tf.random.set_random_seed",
        "tf.compat.v1.set_random_seed",
        "tf.compat.v1.random.set_random_seed",
    ],
)
def test_every_tf1_spelling_becomes_tf_random_set_seed(call):
    check_transformed(
        f"""
        import tensorflow as tf
        {call}(1234)  # for reproducibility
        """,
        """
        import tensorflow as tf
        import random

        tf.random.set_seed(1234)  # for reproducibility
        random.seed(1234)
        """,
    )


def test_keyword_form_and_expression_are_copied_verbatim():
    check_transformed(
        """
        import tensorflow as tf
        tf.set_random_seed(seed=i + 1000 * rank)
        """,
        """
        import tensorflow as tf
        import random

        tf.random.set_seed(seed=i + 1000 * rank)
        random.seed(i + 1000 * rank)
        """,
    )


def test_alias_resolved_through_imports():
    check_transformed(
        """
        import tensorflow as tensor_flow
        tensor_flow.set_random_seed(3)
        """,
        """
        import tensorflow as tensor_flow
        import random

        tensor_flow.random.set_seed(3)
        random.seed(3)
        """,
    )


@pytest.mark.parametrize("module", ["tensorflow", "tensorflow.random", "tensorflow.compat.v1"])
def test_bare_name_from_import_gets_tf_import_and_loses_old_import(module):
    check_transformed(
        f"""
        from {module} import set_random_seed
        set_random_seed(5)
        """,
        """
        import random
        import tensorflow as tf

        tf.random.set_seed(5)
        random.seed(5)
        """,
    )


def test_from_import_shared_with_other_names_keeps_them():
    check_transformed(
        """
        from tensorflow import set_random_seed, constant
        set_random_seed(5)
        x = constant(1)
        """,
        """
        from tensorflow import constant
        import random
        import tensorflow as tf

        tf.random.set_seed(5)
        random.seed(5)
        x = constant(1)
        """,
    )


def test_method_seed_attribute_is_copied():
    check_transformed(
        """
        import tensorflow as tf
        class Trainer:
            def setup(self):
                tf.set_random_seed(self.random_state)
        """,
        """
        import tensorflow as tf
        import random

        class Trainer:
            def setup(self):
                tf.random.set_seed(self.random_state)
                random.seed(self.random_state)
        """,
    )


def test_duplicate_next_to_tf2_call_is_removed():
    check_transformed(
        """
        import tensorflow as tf
        tf.random.set_seed(s); tf.compat.v1.set_random_seed(s)
        """,
        """
        import tensorflow as tf
        tf.random.set_seed(s)
        """,
    )


def test_graph_mode_file_keeps_tf1_semantics_with_compat_v1():
    check_transformed(
        """
        import tensorflow as tf
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32)
        """,
        """
        import tensorflow as tf
        tf.compat.v1.set_random_seed(1)
        x = tf.placeholder(tf.float32)
        """,
    )


def test_local_object_named_tf_is_not_touched():
    check_noop(
        """
        class Fake:
            def set_random_seed(self, s):
                pass
        tf = Fake()
        tf.set_random_seed(1)
        """
    )


def test_unimported_tf_is_not_touched():
    check_noop("tf.set_random_seed(1)\n")


def test_version_gated_fallback_keeps_its_shape():
    check_noop(
        """
        import tensorflow as tf
        try:
            tf.compat.v1.set_random_seed(s)
        except AttributeError:
            tf.set_random_seed(s)
        if tf.__version__.startswith('1'):
            tf.set_random_seed(s)
        """
    )


def test_import_error_guard_keeps_its_shape_and_is_migrated():
    check_transformed(
        """
        try:
            import tensorflow as tf
            tf.set_random_seed(s)
        except ImportError:
            pass
        """,
        """
        import random

        try:
            import tensorflow as tf
            tf.random.set_seed(s)
            random.seed(s)
        except ImportError:
            pass
        """,
    )


def test_op_level_seed_arguments_and_tf2_calls_are_left_alone():
    result = check_noop(
        """
        import tensorflow as tf
        tf.random.set_seed(5)
        w = tf.compat.v1.get_variable('w', initializer=tf.compat.v1.glorot_uniform_initializer(seed=5))
        cfg = tf.estimator.RunConfig(tf_random_seed=5)
        x = tf.random.uniform([2], seed=3)
        """
    )
    assert codes(result) == []


def test_commented_out_code_is_never_touched():
    check_noop(
        """
        import tensorflow as tf
        # tf.set_random_seed(1)
        x = 1  # tf.set_random_seed(2)
        """
    )


def test_calls_whose_value_is_used_are_renamed_too():
    check_transformed(
        """
        import tensorflow as tf
        reseed = lambda: tf.set_random_seed(1)
        hooks = [tf.compat.v1.set_random_seed(2)]
        """,
        """
        import tensorflow as tf
        reseed = lambda: tf.random.set_seed(1)
        hooks = [tf.random.set_seed(2)]
        """,
    )


OPTIONAL_TF = """
try:
    from tensorflow import set_random_seed
except ImportError:
    set_random_seed = None


def seed_all(seed):
    if set_random_seed is not None:
        set_random_seed(seed)
"""


def test_fix_adding_a_hard_tensorflow_import_to_an_optional_tf_file_is_held_back():
    result = check_noop(OPTIONAL_TF)
    assert codes(result, "unsafe") == ["TRM001"]
    assert "only inside try/except ImportError" in result.findings[0].message
    assert result.held_back == 1


def test_held_back_hard_import_applies_with_unsafe_fixes():
    check_transformed(
        OPTIONAL_TF,
        """
        import random
        import tensorflow as tf

        try:
            from tensorflow import set_random_seed
        except ImportError:
            set_random_seed = None


        def seed_all(seed):
            if set_random_seed is not None:
                tf.random.set_seed(seed)
                random.seed(seed)
        """,
        unsafe_fixes=True,
    )


def test_import_in_the_except_branch_is_not_optional():
    # TensorFlow is imported in the handler, which runs unguarded: it is already required.
    check_transformed(
        """
        try:
            from tf_shim import set_random_seed
        except ImportError:
            from tensorflow import set_random_seed
        set_random_seed(1)
        seeders = [set_random_seed]
        """,
        """
        import random
        import tensorflow as tf

        try:
            from tf_shim import set_random_seed
        except ImportError:
            from tensorflow import set_random_seed
        tf.random.set_seed(1)
        random.seed(1)
        seeders = [set_random_seed]
        """,
    )
