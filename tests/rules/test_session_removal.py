"""TRM004: remove sessions whose only use is set_session; keep graph-mode sessions."""

import pytest
from helpers import check_noop, check_transformed, codes, migrate

SET_SESSION_SPELLINGS = [
    ("from keras import backend as K", "K.set_session"),
    ("import keras.backend as K", "K.set_session"),
    ("import keras.backend.tensorflow_backend as KTF", "KTF.set_session"),
    ("from keras.backend.tensorflow_backend import set_session", "set_session"),
    ("import keras", "keras.backend.set_session"),
    ("from tensorflow import keras", "keras.backend.set_session"),
    ("import keras", "keras.backend.tensorflow_backend.set_session"),
    ("", "tf.keras.backend.set_session"),
    ("", "tf.compat.v1.keras.backend.set_session"),
    ("from tensorflow import compat", "compat.v1.keras.backend.set_session"),
    ("from tensorflow.compat.v1.keras.backend import set_session", "set_session"),
    ("from tensorflow.python.keras import backend as K", "K.set_session"),
    ("from keras import backend as keras", "keras.set_session"),
]


@pytest.mark.parametrize("import_line, call", SET_SESSION_SPELLINGS)
def test_every_set_session_spelling_is_removed_with_its_import(import_line, call):
    lines = ["import tensorflow as tf", import_line, "sess = tf.Session(graph=tf.get_default_graph())",
             f"{call}(sess)", "print(tf.__version__)"]
    # ``import keras`` stays even when unused: importing Keras runs code (imports.keeps_running).
    kept = "import keras\n" if import_line == "import keras" else ""
    check_transformed(
        "\n".join(line for line in lines if line) + "\n",
        "import tensorflow as tf\n" + kept + "print(tf.__version__)\n",
    )


def test_comments_of_removed_statements_move_to_the_next_statement():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        # make a session
        sess = tf.Session()
        K.set_session(sess)  # register it with keras

        model = build(tf)
        """,
        """
        import tensorflow as tf
        # make a session
        # register it with keras

        model = build(tf)
        """,
    )


def test_removal_inside_a_function_leaves_pass_if_nothing_else():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K

        def setup():
            K.set_session(tf.Session())
        """,
        """
        import tensorflow as tf

        def setup():
            pass
        """,
    )


@pytest.mark.parametrize(
    "use",
    [
        "sess.run(tf.global_variables_initializer())",
        "net = Actor(sess, 3)",
        "saver.restore(sess, path)",
        "writer = tf.summary.FileWriter(logdir, sess.graph)",
    ],
)
def test_session_used_after_setup_is_graph_mode_and_kept(use):
    result = check_transformed(
        f"""
        import tensorflow as tf
        from keras import backend as K
        sess = tf.Session()
        K.set_session(sess)
        {use}
        """,
        f"""
        import tensorflow as tf
        from keras import backend as K
        sess = tf.compat.v1.Session()
        K.set_session(sess)
        {use}
        """,
    )
    manual = [f for f in result.findings if f.code == "TRM004" and f.safety.value == "manual"]
    assert len(manual) == 1 and "graph-mode code: needs a full TF2 port" in manual[0].message


def test_get_session_anywhere_keeps_the_session():
    result = migrate(
        """
        import tensorflow as tf
        from keras import backend as K
        K.set_session(tf.compat.v1.Session())
        K.get_session().run(tf.local_variables_initializer())
        """
    )
    assert "K.set_session(tf.compat.v1.Session())" in result.new
    assert "TRM004" in codes(result, "manual")


def test_returned_session_is_kept():
    result = migrate(
        """
        import tensorflow as tf
        def make():
            sess = tf.compat.v1.Session()
            return sess
        """
    )
    assert result.new == result.old
    assert codes(result, "manual") == ["TRM004"]


def test_with_session_block_is_kept():
    result = check_noop(
        """
        import tensorflow as tf
        with tf.compat.v1.Session() as sess:
            sess.run(x)
        """
    )
    assert codes(result, "manual") == ["TRM004"]


def test_set_session_with_unknown_session_is_reported():
    result = check_noop(
        """
        from keras.backend.tensorflow_backend import set_session
        set_session(make_sess())
        """
    )
    assert codes(result) == ["TRM004"]
    assert "set_session() does not exist in Keras 3" in result.findings[0].message


def test_project_helper_named_set_session_is_not_touched():
    check_noop(
        """
        from myproject.db import set_session
        set_session(make_sess())
        """
    )


def test_session_stored_in_a_global_is_kept():
    result = check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        def init():
            global SESSION
            SESSION = tf.Session()
            K.set_session(SESSION)
        """,
        """
        import tensorflow as tf
        from keras import backend as K
        def init():
            global SESSION
            SESSION = tf.compat.v1.Session()
            K.set_session(SESSION)
        """,
    )
    assert codes(result, "manual") == ["TRM004", "TRM004"]


def test_option_set_in_a_one_line_suite_holds_back_config_and_session_together():
    result = check_noop(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto()
        if grow: cfg.gpu_options.allow_growth = True
        K.set_session(tf.Session(config=cfg))
        """
    )
    assert sorted(codes(result, "unsafe")) == ["TRM003", "TRM004"]
    assert "one-line suite" in next(f for f in result.findings if f.safety.value == "manual").message


def test_import_error_shim_with_a_compat_v1_fallback_is_not_renamed():
    # opt_einsum's tests: the names already come from tf.compat.v1 on TF2, and the file must keep
    # running where TensorFlow is not installed (no unguarded `import tensorflow` may be added).
    result = check_noop(
        """
        try:
            try:
                from tensorflow import ConfigProto  # type: ignore
                from tensorflow import Session as TFSession
            except ImportError:
                from tensorflow.compat.v1 import ConfigProto  # type: ignore
                from tensorflow.compat.v1 import Session as TFSession
            _TF_CONFIG = ConfigProto()
            _TF_CONFIG.gpu_options.allow_growth = True
        except ImportError:
            pass


        def test_tensorflow():
            sess = TFSession(config=_TF_CONFIG)
            with sess.as_default():
                run()
            sess.close()
        """
    )
    assert codes(result) == ["TRM004"]
    assert codes(result, "manual") == ["TRM004"]


def test_rename_without_a_fallback_is_still_made():
    check_transformed(
        """
        from tensorflow import ConfigProto, Session
        sess = Session(config=ConfigProto())
        sess.run(op)
        """,
        """
        import tensorflow as tf

        sess = tf.compat.v1.Session(config=tf.compat.v1.ConfigProto())
        sess.run(op)
        """,
    )


def test_a_function_rebinding_the_session_name_does_not_keep_the_module_session():
    # libcst lists the function's `sess.name = ...` under the module-level binding too; it
    # refers only to the function's own bindings, so the module-level session is removable.
    result = check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        sess = tf.Session()
        K.set_session(sess)

        def evaluate(graph):
            if graph is None:
                sess = tf.Session()
                sess.name = 'default'
            else:
                sess = tf.Session(graph=graph)
            return sess
        """,
        """
        import tensorflow as tf

        def evaluate(graph):
            if graph is None:
                sess = tf.compat.v1.Session()
                sess.name = 'default'
            else:
                sess = tf.compat.v1.Session(graph=graph)
            return sess
        """,
    )
    assert [(f.code, f.safety.value) for f in result.findings if f.line == 3] == [("TRM004", "safe")]
    kept = [f.message for f in result.findings if f.safety.value == "manual"]
    assert len(kept) == 2 and all("line 12 may use either binding" in m for m in kept)


def test_every_use_after_set_up_is_named_in_source_order():
    result = check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        sess = tf.Session()
        K.set_session(sess)
        a = sess.run(x)
        b = sess.run(y)
        c = sess.run(z)
        """,
        """
        import tensorflow as tf
        from keras import backend as K
        sess = tf.compat.v1.Session()
        K.set_session(sess)
        a = sess.run(x)
        b = sess.run(y)
        c = sess.run(z)
        """,
    )
    manual = [f.message for f in result.findings if f.safety.value == "manual"]
    assert manual == ["graph-mode code: needs a full TF2 port (`sess` is used after set-up (line 5)); the session is kept"]
