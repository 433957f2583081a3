"""Session factories (issue 10 part 2): a function that builds a config and returns a session
handed only to ``set_session`` becomes a function that applies the ``tf.config`` calls."""

import pytest
from helpers import check_noop, check_transformed, codes, migrate
from tf_run import run_tf

FACTORY = """
import tensorflow as tf
from keras import backend as K


def {name}():
    config = tf.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=3)
    return tf.Session(config=config)


{call}({name}())
"""

MIGRATED = """
import tensorflow as tf


def {name}():
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(3)


{name}()
"""


@pytest.mark.parametrize("import_line, call", [
    ("from keras import backend as K", "K.set_session"),
    ("from keras.backend.tensorflow_backend import set_session", "set_session"),
    ("import keras.backend.tensorflow_backend as KTF", "KTF.set_session"),
])
def test_private_factory_becomes_a_function_applying_tf_config(import_line, call):
    before = FACTORY.format(name="_make_session", call=call).replace("from keras import backend as K", import_line)
    result = check_transformed(before, MIGRATED.format(name="_make_session"))
    assert all(f.safety.value == "safe" for f in result.findings if f.code in ("TRM003", "TRM004")), result.findings


def test_keras_module_spelling_of_set_session():
    check_transformed(
        """
        import keras
        import tensorflow as tf


        def _sess():
            return tf.compat.v1.Session(config=tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2))


        keras.backend.tensorflow_backend.set_session(_sess())
        """,
        """
        import keras
        import tensorflow as tf


        def _sess():
            tf.config.threading.set_intra_op_parallelism_threads(2)


        _sess()
        """,
    )


def test_migrated_private_factory_applies_the_settings_on_tf2(tmp_path):
    result = migrate(FACTORY.format(name="_make_session", call="K.set_session"))
    out = run_tf(result.new + "print('STATE', tf.config.threading.get_intra_op_parallelism_threads(), "
                 "tf.config.threading.get_inter_op_parallelism_threads())\n", tmp_path)
    assert out == ["STATE 2 3"]


def test_public_factory_is_an_unsafe_fix_saying_why():
    before = FACTORY.format(name="make_session", call="K.set_session")
    check_noop(before)
    result = migrate(before)
    unsafe = [f for f in result.findings if f.code == "TRM004" and f.safety.value == "unsafe"]
    assert unsafe and "public" in unsafe[0].message and "other files" in unsafe[0].message
    check_transformed(before, MIGRATED.format(name="make_session"), unsafe_fixes=True)


def test_factory_referenced_other_than_as_a_call_is_unsafe():
    before = FACTORY.format(name="_make_session", call="K.set_session") + "FACTORIES = [_make_session]\n"
    result = check_noop(before)
    unsafe = [f for f in result.findings if f.code == "TRM004" and f.safety.value == "unsafe"]
    assert unsafe and "(line 11)" in unsafe[0].message, result.findings


def test_stray_set_session_of_a_kept_factory_says_what_to_do():
    # The factory's session is also used after set-up: graph-mode, kept; the set_session call
    # gets a finding naming the function and the change to make.
    before = FACTORY.format(name="_make_session", call="K.set_session") + "sess = _make_session()\nsess.run(x)\n"
    result = migrate(before)
    assert "K.set_session(_make_session())" in result.new
    stray = [f for f in result.findings if f.code == "TRM004" and "set_session()" in f.message]
    assert stray and "`_make_session`" in stray[0].message and "tf.config" in stray[0].message, result.findings
    assert "graph-mode" in " ".join(f.message for f in result.findings)


def test_stray_set_session_of_an_imported_factory_names_it():
    result = migrate(
        """
        from keras import backend as K
        from utils import make_session
        K.set_session(make_session())
        """
    )
    stray = [f for f in result.findings if f.code == "TRM004"]
    assert len(stray) == 1 and "`make_session` (imported from utils)" in stray[0].message, result.findings
    assert stray[0].safety.value == "manual"


def test_project_get_session_helper_is_not_k_get_session():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K


        def get_session():
            return None


        def _make_session():
            return tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2))


        K.set_session(_make_session())
        get_session()
        """,
        """
        import tensorflow as tf


        def get_session():
            return None


        def _make_session():
            tf.config.threading.set_intra_op_parallelism_threads(2)


        _make_session()
        get_session()
        """,
    )


def test_factory_whose_session_is_used_after_set_up_is_left_alone():
    result = migrate(
        """
        import tensorflow as tf


        def _make_sess():
            return tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2))


        sess = _make_sess()
        sess.run(x)
        """
    )
    assert "tf.compat.v1.Session" in result.new and "set_intra_op" not in result.new
    assert any("graph-mode" in f.message for f in result.findings if f.code == "TRM004")


def test_config_factory_is_reported_with_the_tf_config_calls():
    result = migrate(
        """
        import tensorflow as tf


        def make_config():
            return tf.ConfigProto(intra_op_parallelism_threads=2, allow_soft_placement=True)
        """
    )
    manual = [f for f in result.findings if f.code == "TRM003" and f.safety.value == "manual"]
    assert manual, result.findings
    assert "no effect" in manual[0].message
    assert "tf.config.threading.set_intra_op_parallelism_threads(2)" in manual[0].message
    assert "tf.config.set_soft_device_placement(True)" in manual[0].message
    assert codes(result, "manual").count("TRM003") == 1


def test_config_returned_by_name_is_reported_with_its_fields():
    result = migrate(
        """
        import tensorflow as tf


        def make_config():
            cfg = tf.ConfigProto(per_process_gpu_memory_fraction=0.5)
            cfg.gpu_options.allow_growth = True
            return cfg


        sess = tf.Session(config=make_config())
        sess.run(x)
        print(make_config())
        """
    )
    # make_config() is also printed: not a config factory of sessions only.
    assert "tf.compat.v1.ConfigProto" in result.new  # still runs on TF2
    manual = [f for f in result.findings if f.code == "TRM003" and "not given to a session" in f.message]
    assert len(manual) == 1 and manual[0].line == 5, result.findings
    assert "tf.config.experimental.set_memory_growth(gpu, True)" in manual[0].message
    assert "per_process_gpu_memory_fraction" in manual[0].message


def test_config_given_to_a_session_is_not_reported_as_unused():
    result = migrate(
        """
        import tensorflow as tf
        sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2))
        sess.run(x)
        """
    )
    assert not [f for f in result.findings if "not given to a session" in f.message]


FAQ_FACTORY = """
import numpy as np
import tensorflow as tf
from keras import backend as K

np.random.seed(1)
tf.set_random_seed(1)


def _make_session():
    session_conf = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    return tf.Session(graph=tf.get_default_graph(), config=session_conf)


def main():
    K.set_session(_make_session())


main()
"""


def test_keras_faq_factory_called_from_main_runs_single_threaded_and_deterministic(tmp_path):
    from tf_run import STATE
    result = migrate(FAQ_FACTORY)
    assert "set_session" not in result.new and "\n    _make_session()\n" in result.new
    assert "def _make_session():\n    tf.config.threading.set_intra_op_parallelism_threads(1)" in result.new
    assert run_tf(result.new + STATE, tmp_path) == ["STATE True 1 1"]


def test_factory_in_a_file_reading_the_session_back_is_kept_with_what_to_do():
    result = migrate(FACTORY.format(name="_make_session", call="K.set_session") + "print(K.get_session())\n")
    assert "K.set_session(_make_session())" in result.new and "tf.compat.v1.Session" in result.new
    messages = [f.message for f in result.findings if f.code == "TRM004" and f.safety.value == "manual"]
    assert any("get_session()" in m and "graph-mode" in m for m in messages), messages
    assert any("`_make_session` (defined at line 5)" in m and "replace this line with `_make_session()`" in m
               for m in messages), messages


def test_method_returning_a_session_is_not_a_factory():
    result = migrate(
        """
        import tensorflow as tf
        from keras import backend as K


        class Trainer:
            def _session(self):
                return tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2))


        K.set_session(Trainer()._session())
        """
    )
    assert "K.set_session(Trainer()._session())" in result.new and "set_intra_op" not in result.new
    assert any(f.code == "TRM004" and "set_session() does not exist" in f.message for f in result.findings)


CONFIG_FACTORY = """
import tensorflow as tf
from keras import backend as K


def {name}():
    cfg = tf.ConfigProto(intra_op_parallelism_threads=2)
    cfg.inter_op_parallelism_threads = 3
    return cfg


sess = tf.Session(config={name}())
K.set_session(sess)
"""

CONFIG_FACTORY_OUT = """
import tensorflow as tf


def {name}():
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(3)


{name}()
"""


def test_config_factory_whose_callers_give_it_to_removable_sessions_is_migrated(tmp_path):
    result = check_transformed(CONFIG_FACTORY.format(name="_config"), CONFIG_FACTORY_OUT.format(name="_config"))
    assert not [f for f in result.findings if f.safety.value != "safe"], result.findings
    assert run_tf(result.new + "print('STATE', tf.config.threading.get_intra_op_parallelism_threads(), "
                  "tf.config.threading.get_inter_op_parallelism_threads())\n", tmp_path) == ["STATE 2 3"]


def test_inline_config_factory_feeding_a_session_factory():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K


        def _config():
            return tf.ConfigProto(intra_op_parallelism_threads=2)


        def _session():
            return tf.Session(config=_config())


        K.set_session(_session())
        """,
        """
        import tensorflow as tf


        def _config():
            tf.config.threading.set_intra_op_parallelism_threads(2)


        def _session():
            _config()


        _session()
        """,
    )


def test_public_config_factory_is_an_unsafe_fix():
    before = CONFIG_FACTORY.format(name="make_config")
    result = check_noop(before)
    unsafe = [f for f in result.findings if f.code == "TRM003" and f.safety.value == "unsafe"]
    assert unsafe and "`make_config` is public" in unsafe[0].message, result.findings
    check_transformed(before, CONFIG_FACTORY_OUT.format(name="make_config"), unsafe_fixes=True)


def test_config_factory_with_a_kept_caller_is_reported_not_migrated():
    result = migrate(CONFIG_FACTORY.format(name="_config") + "sess.run(x)\n")
    assert "tf.compat.v1.ConfigProto" in result.new and "set_intra_op" not in result.new
    assert any("graph-mode" in f.message for f in result.findings)
