"""TRM002: random + NumPy + TF seeded with one value -> keras.utils.set_random_seed."""

from helpers import check_noop, check_transformed, codes


def test_three_seeds_with_one_literal_become_one_call():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf
        import keras

        random.seed(7)
        np.random.seed(7)
        tf.set_random_seed(7)  # for reproducibility
        model = keras.Sequential()
        """,
        """
        import tensorflow as tf
        import keras

        keras.utils.set_random_seed(7)  # for reproducibility
        model = keras.Sequential()
        """,
    )


def test_boilerplate_and_comments_between_do_not_break_the_group():
    check_transformed(
        """
        import os, random as rn
        import numpy as np, tensorflow as tf
        SEED = 11
        # seed numpy
        np.random.seed(SEED)
        os.environ['PYTHONHASHSEED'] = str(SEED)
        rn.seed(SEED)
        tf.set_random_seed(SEED)
        print(np.random.rand())
        """,
        """
        import os
        import numpy as np, tensorflow as tf
        import keras

        SEED = 11
        # seed numpy
        os.environ['PYTHONHASHSEED'] = str(SEED)
        keras.utils.set_random_seed(SEED)
        print(np.random.rand())
        """,
    )


def test_parameter_with_int_default_is_consolidated_in_a_helper():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf

        def set_seeds(s=0):
            random.seed(s); np.random.seed(s)
            tf.set_random_seed(s)
        """,
        """
        import tensorflow as tf
        import keras

        def set_seeds(s=0):
            keras.utils.set_random_seed(s)
        """,
    )


def test_file_already_using_tf2_seed_names_is_not_reshuffled():
    check_noop(
        """
        import random
        import numpy as np
        import tensorflow as tf

        def set_seeds(s=0):
            random.seed(s); np.random.seed(s)
            tf.random.set_seed(s)
        """
    )


def test_int_cast_from_environment_is_never_none():
    check_transformed(
        """
        import os, random
        import numpy as np
        import tensorflow as tf
        SEED = int(os.environ.get('MY_SEED', 0))
        random.seed(SEED)
        np.random.seed(SEED)
        tf.set_random_seed(SEED)
        """,
        """
        import os
        import tensorflow as tf
        import keras

        SEED = int(os.environ.get('MY_SEED', 0))
        keras.utils.set_random_seed(SEED)
        """,
    )


def test_different_seeds_per_library_stay_separate():
    result = check_transformed(
        """
        import random as rn
        import numpy as np
        import tensorflow as tf
        np.random.seed(42)
        rn.seed(12345)
        tf.set_random_seed(1234)
        """,
        """
        import random as rn
        import numpy as np
        import tensorflow as tf
        np.random.seed(42)
        rn.seed(12345)
        tf.random.set_seed(1234)
        """,
    )
    assert "TRM002" not in codes(result)


def test_seed_that_may_be_none_stays_separate():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf

        def seed_all(seed=None):
            random.seed(seed)
            np.random.seed(seed)
            tf.set_random_seed(seed)
        """,
        """
        import random
        import numpy as np
        import tensorflow as tf

        def seed_all(seed=None):
            random.seed(seed)
            np.random.seed(seed)
            tf.random.set_seed(seed)
        """,
    )


def test_argparse_seed_stays_separate():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(args.seed)
        np.random.seed(seed=args.seed)
        tf.set_random_seed(args.seed)
        """,
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(args.seed)
        np.random.seed(seed=args.seed)
        tf.random.set_seed(args.seed)
        """,
    )


def test_numpy_and_tf_pair_with_one_value_becomes_keras_set_random_seed():
    # keras.utils.set_random_seed also seeds Python's random, which Keras 3 draws its default seeds from.
    check_transformed(
        """
        import numpy as np
        import tensorflow as tf
        seed = 11
        np.random.seed(seed)
        tf.set_random_seed(seed)
        """,
        """
        import tensorflow as tf
        import keras

        seed = 11
        keras.utils.set_random_seed(seed)
        """,
    )


def test_ordinary_code_between_breaks_the_group():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(1)
        data = np.arange(10)
        np.random.seed(1)
        tf.set_random_seed(1)
        """,
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(1)
        data = np.arange(10)
        np.random.seed(1)
        tf.random.set_seed(1)
        """,
    )


def test_tf_keras_target_option():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf
        random.seed(3)
        np.random.seed(3)
        tf.set_random_seed(3)
        """,
        """
        import tensorflow as tf
        tf.keras.utils.set_random_seed(3)
        """,
        keras_target="tf.keras",
    )


def test_keras_from_tensorflow_is_reused():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf
        from tensorflow import keras
        random.seed(3)
        np.random.seed(3)
        tf.set_random_seed(3)
        """,
        """
        import tensorflow as tf
        from tensorflow import keras
        keras.utils.set_random_seed(3)
        """,
    )


def test_local_seeding_then_unseeding_is_left_alone():
    check_noop(
        """
        import numpy as np
        np.random.seed(10101)
        np.random.shuffle(colors)
        np.random.seed(None)
        rng = np.random.RandomState(5)
        """
    )


def test_torch_seeding_is_left_alone():
    check_noop(
        """
        import random
        import numpy as np
        import torch
        random.seed(0)
        np.random.seed(0)
        torch.manual_seed(0)
        """
    )


def test_tensorflow_random_module_shadowing_python_random():
    # ``random`` is tf.random here; the TF seed is already the TF2 name: nothing to change.
    check_noop(
        """
        import random as python_random
        import numpy as np
        from tensorflow import random
        import tensorflow as tf
        python_random.seed(2)
        np.random.seed(2)
        random.set_seed(2)
        """
    )


def test_tf1_seed_next_to_tensorflow_random_shadowing_python_random():
    check_transformed(
        """
        import random as python_random
        import numpy as np
        from tensorflow import random
        import tensorflow as tf
        python_random.seed(2)
        np.random.seed(2)
        tf.set_random_seed(2)
        x = random.uniform([1])
        """,
        """
        from tensorflow import random
        import tensorflow as tf
        import keras

        keras.utils.set_random_seed(2)
        x = random.uniform([1])
        """,
    )
