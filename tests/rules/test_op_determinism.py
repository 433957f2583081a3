"""TRM005: enable_op_determinism() where determinism was asked for (its function, branch or notebook cell), after the seed when the seed is there."""

import json
import textwrap

import pytest
from helpers import check_noop, check_transformed, codes, migrate
from tf_run import STATE, run_tf


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


# -- where the request was made (issue "Faithful on real code", section 4) --------------------


def test_request_in_a_function_goes_there_not_into_the_function_that_seeds():
    check_transformed(
        """
        import os
        import tensorflow as tf

        def seed_everything(s):
            tf.random.set_seed(s)

        def make_deterministic():
            seed_everything(1)
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """,
        """
        import os
        import tensorflow as tf

        def seed_everything(s):
            tf.random.set_seed(s)

        def make_deterministic():
            seed_everything(1)
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            tf.config.experimental.enable_op_determinism()
        """,
    )


def test_conditional_request_stays_conditional():
    result = check_transformed(
        """
        import os, sys
        import tensorflow as tf
        tf.set_random_seed(1)
        if '--deterministic' in sys.argv:
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """,
        """
        import os, sys
        import tensorflow as tf
        import random

        tf.random.set_seed(1)
        random.seed(1)
        if '--deterministic' in sys.argv:
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            tf.config.experimental.enable_op_determinism()
        """,
    )
    assert [f.safety.value for f in result.findings if f.code == "TRM005"] == ["safe"]


def test_seed_in_the_requesting_function_comes_first():
    check_transformed(
        """
        import os
        import tensorflow as tf

        def setup(seed):
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            if seed is not None:
                tf.random.set_seed(seed)
            print('ready')
        """,
        """
        import os
        import tensorflow as tf

        def setup(seed):
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            if seed is not None:
                tf.random.set_seed(seed)
            tf.config.experimental.enable_op_determinism()
            print('ready')
        """,
    )


def test_seed_in_a_nested_function_is_not_in_the_request_scope():
    check_transformed(
        """
        import os
        import tensorflow as tf

        def setup():
            def reseed():
                tf.random.set_seed(1)
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            return reseed
        """,
        """
        import os
        import tensorflow as tf

        def setup():
            def reseed():
                tf.random.set_seed(1)
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            tf.config.experimental.enable_op_determinism()
            return reseed
        """,
    )


def test_one_call_per_block_and_a_module_level_call_covers_the_functions():
    result = check_transformed(
        """
        import os
        import tensorflow as tf
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        tf.random.set_seed(1)

        def configure():
            os.environ['TF_CUDNN_DETERMINISTIC'] = '1'
        """,
        """
        import os
        import tensorflow as tf
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        tf.random.set_seed(1)
        tf.config.experimental.enable_op_determinism()

        def configure():
            os.environ['TF_CUDNN_DETERMINISTIC'] = '1'
        """,
    )
    assert codes(result) == ["TRM005"]


def test_two_requesting_functions_each_get_the_call():
    check_transformed(
        """
        import os
        import tensorflow as tf
        tf.random.set_seed(0)

        def train():
            os.environ['TF_DETERMINISTIC_OPS'] = '1'

        def evaluate():
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """,
        """
        import os
        import tensorflow as tf
        tf.random.set_seed(0)

        def train():
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            tf.config.experimental.enable_op_determinism()

        def evaluate():
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            tf.config.experimental.enable_op_determinism()
        """,
    )


def test_existing_call_in_the_requesting_function_is_enough():
    check_noop(
        """
        import os
        import tensorflow as tf
        tf.random.set_seed(0)

        def train():
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            tf.config.experimental.enable_op_determinism()
        """
    )


def test_existing_call_elsewhere_does_not_cover_a_function_request():
    result = migrate(
        """
        import os
        import tensorflow as tf
        tf.random.set_seed(0)

        def other():
            tf.config.experimental.enable_op_determinism()

        def train():
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """
    )
    assert result.new.count("enable_op_determinism()") == 2
    assert "    os.environ['TF_DETERMINISTIC_OPS'] = '1'\n    tf.config.experimental.enable_op_determinism()\n" in result.new


def test_cell_marker_agrees_with_the_notebook_module():
    from tf_repro_migrate.notebook import CELL_MARK
    from tf_repro_migrate.rules.op_determinism import _CELL_MARK

    assert _CELL_MARK.match(CELL_MARK.format(12))


def _notebook(*cells: str) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": textwrap.dedent(c).lstrip("\n").splitlines(keepends=True)} for c in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }, indent=1) + "\n"


TEACHING_NOTEBOOK = (
    """
    import numpy as np
    import tensorflow as tf
    from keras import backend as K
    tf.set_random_seed(7)
    """,
    """
    # demo: a single-threaded session
    conf = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    K.set_session(tf.Session(config=conf))
    """,
    """
    print(tf.config.threading.get_intra_op_parallelism_threads())
    """,
)


def test_notebook_request_stays_in_its_cell():
    from tf_repro_migrate.context import Options
    from tf_repro_migrate.notebook import migrate_notebook, read_cells

    result = migrate_notebook(_notebook(*TEACHING_NOTEBOOK), Options())
    cells = {c.index: c.text for c in read_cells(result.new_json)}
    assert cells[1] == "import numpy as np\nimport tensorflow as tf\nimport random\n\ntf.random.set_seed(7)\nrandom.seed(7)\n"
    assert cells[2] == (
        "# demo: a single-threaded session\n"
        "tf.config.threading.set_intra_op_parallelism_threads(1)\n"
        "tf.config.threading.set_inter_op_parallelism_threads(1)\n"
        "tf.config.experimental.enable_op_determinism()\n"
    )
    assert [f.cell for f in result.findings if f.code == "TRM005"] == [2]
    assert migrate_notebook(result.new_json, Options()).new_json == result.new_json


def test_notebook_seed_in_the_same_cell_comes_first():
    from tf_repro_migrate.context import Options
    from tf_repro_migrate.notebook import migrate_notebook, read_cells

    result = migrate_notebook(_notebook(
        "import os\nos.environ['TF_DETERMINISTIC_OPS'] = '1'\n",
        "import tensorflow as tf\n",
        "os.environ['TF_CUDNN_DETERMINISTIC'] = '1'\ntf.random.set_seed(3)\nx = 1\n",
    ), Options())
    cells = {c.index: c.text for c in read_cells(result.new_json)}
    # cell 1 asked before its TensorFlow import: the call stays in cell 1, with the import it needs
    assert cells[1] == ("import os\nos.environ['TF_DETERMINISTIC_OPS'] = '1'\nimport tensorflow as tf\n"
                        "tf.config.experimental.enable_op_determinism()\n")
    assert cells[3] == ("os.environ['TF_CUDNN_DETERMINISTIC'] = '1'\ntf.random.set_seed(3)\n"
                        "tf.config.experimental.enable_op_determinism()\nx = 1\n")


# -- executed under TF 2.x ------------------------------------------------------------------------

def test_executed_conditional_request(tmp_path):
    new = migrate(
        """
        import os, sys
        import tensorflow as tf
        tf.set_random_seed(1)
        if '--deterministic' in sys.argv:
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """
    ).new + STATE
    assert run_tf(new, tmp_path, "--deterministic") == ["STATE True 0 0"]
    assert run_tf(new, tmp_path) == ["STATE False 0 0"]


def test_executed_function_request_and_seeding_helper(tmp_path):
    new = migrate(
        """
        import os
        import tensorflow as tf

        def seed_everything(s):
            tf.set_random_seed(s)

        def make_deterministic():
            seed_everything(1)
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """
    ).new
    script = new + "seed_everything(2)\n" + STATE + "make_deterministic()\n" + STATE
    assert run_tf(script, tmp_path) == ["STATE False 0 0", "STATE True 0 0"]


def test_executed_notebook_cells_in_order(tmp_path):
    from tf_repro_migrate.context import Options
    from tf_repro_migrate.notebook import migrate_notebook, read_cells

    result = migrate_notebook(_notebook(*TEACHING_NOTEBOOK), Options())
    cells = [c.text for c in read_cells(result.new_json)]
    # the cells as a kernel runs them, the state read back after each one
    assert run_tf("".join(c + STATE for c in cells), tmp_path) == [
        "STATE False 0 0", "STATE True 1 1", "STATE True 1 1"]


CONDITIONAL_BEFORE_IMPORT = """
    import os, sys
    if '--deterministic' in sys.argv:
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
    import tensorflow as tf
    tf.set_random_seed(1)
    """


def test_conditional_request_above_the_tf_import_imports_it_in_the_branch():
    check_transformed(
        CONDITIONAL_BEFORE_IMPORT,
        """
        import os, sys
        import random

        if '--deterministic' in sys.argv:
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
            import tensorflow as tf
            tf.config.experimental.enable_op_determinism()
        import tensorflow as tf
        tf.random.set_seed(1)
        random.seed(1)
        """,
    )


def test_executed_conditional_request_above_the_tf_import(tmp_path):
    new = migrate(CONDITIONAL_BEFORE_IMPORT).new + STATE
    assert run_tf(new, tmp_path, "--deterministic") == ["STATE True 0 0"]
    assert run_tf(new, tmp_path) == ["STATE False 0 0"]


def test_request_above_import_time_env_settings_is_held_back():
    source = """
        import os, sys
        if '--deterministic' in sys.argv:
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
        import tensorflow as tf
        tf.set_random_seed(1)
        """
    result = migrate(source)
    assert "enable_op_determinism" not in result.new
    finding = next(f for f in result.findings if f.code == "TRM005")
    assert finding.safety.value == "unsafe" and "line 4" in finding.message


def test_thread_counts_set_under_a_condition_are_a_conditional_request():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        tf.set_random_seed(1)
        conf = tf.compat.v1.ConfigProto()
        if n > 0:
            conf.intra_op_parallelism_threads = 1
            conf.inter_op_parallelism_threads = 1
        K.set_session(tf.compat.v1.Session(config=conf))
        """,
        """
        import tensorflow as tf
        import random

        tf.random.set_seed(1)
        random.seed(1)
        if n > 0:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            tf.config.experimental.enable_op_determinism()
        """,
    )


def test_the_seed_before_the_request_is_preferred_to_a_later_reseed():
    check_transformed(
        """
        import os
        import tensorflow as tf
        tf.random.set_seed(1)
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        model = build()
        tf.random.set_seed(2)
        """,
        """
        import os
        import tensorflow as tf
        tf.random.set_seed(1)
        tf.config.experimental.enable_op_determinism()
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        model = build()
        tf.random.set_seed(2)
        """,
    )


def test_seed_in_a_version_shim_puts_the_call_after_the_shim():
    check_transformed(
        """
        import os
        import tensorflow as tf
        try:
            tf.compat.v1.set_random_seed(1234)
        except AttributeError:
            tf.set_random_seed(1234)
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """,
        """
        import os
        import tensorflow as tf
        try:
            tf.compat.v1.set_random_seed(1234)
        except AttributeError:
            tf.set_random_seed(1234)
        tf.config.experimental.enable_op_determinism()
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """,
    )


def test_tfdeterminism_patch_in_a_function_is_replaced_there():
    check_transformed(
        """
        import tensorflow as tf
        from tfdeterminism import patch
        tf.set_random_seed(1)

        def train():
            patch()
            fit()
        """,
        """
        import tensorflow as tf
        import random

        tf.random.set_seed(1)
        random.seed(1)

        def train():
            tf.config.experimental.enable_op_determinism()
            fit()
        """,
    )


def test_tfdeterminism_patch_covered_by_a_module_level_request_is_only_removed():
    result = check_transformed(
        """
        import os
        import tensorflow as tf
        from tfdeterminism import patch
        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        tf.set_random_seed(1)

        def train():
            patch()
            fit()
        """,
        """
        import os
        import tensorflow as tf
        import random

        os.environ['TF_DETERMINISTIC_OPS'] = '1'
        tf.random.set_seed(1)
        random.seed(1)
        tf.config.experimental.enable_op_determinism()

        def train():
            fit()
        """,
    )
    assert any("emitted for the enclosing block" in f.message for f in result.findings)


def test_the_finding_names_where_the_call_goes():
    result = migrate(
        """
        import os, sys
        import tensorflow as tf
        tf.random.set_seed(1)

        def make_deterministic():
            os.environ['TF_DETERMINISTIC_OPS'] = '1'

        if '--deterministic' in sys.argv:
            os.environ['TF_CUDNN_DETERMINISTIC'] = '1'
        else:
            os.environ['TF_DETERMINISTIC_OPS'] = '1'
        """
    )
    messages = [f.message for f in result.findings if f.code == "TRM005"]
    assert [m.split("enable_op_determinism() ")[1] for m in messages] == [
        "where it was requested in `make_deterministic()`",
        "where it was requested inside the `if` on line 8",
        "where it was requested inside the `else` on line 10",
    ]
