"""TRM003: ConfigProto / GPUOptions fields -> tf.config calls where the config was built."""

import textwrap

import pytest
from helpers import check_noop, check_transformed, codes, migrate
from tf_run import run_tf


def test_thread_counts_become_threading_calls_in_place():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        n = 4
        conf = tf.ConfigProto(intra_op_parallelism_threads=n, inter_op_parallelism_threads=2)
        K.set_session(tf.Session(config=conf))
        """,
        """
        import tensorflow as tf
        n = 4
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(2)
        """,
    )


def test_allow_growth_false_stays_false():
    check_transformed(
        """
        import tensorflow as tf
        import keras.backend as K
        K.set_session(tf.Session(config=tf.ConfigProto(gpu_options=tf.GPUOptions(allow_growth=False))))
        """,
        """
        import tensorflow as tf
        for gpu in tf.config.list_physical_devices('GPU'):
            tf.config.experimental.set_memory_growth(gpu, False)
        """,
    )


def test_placement_and_logging_fields():
    check_transformed(
        """
        import tensorflow as tf
        import keras
        cfg = tf.compat.v1.ConfigProto(allow_soft_placement=True, log_device_placement=False)
        keras.backend.set_session(tf.compat.v1.Session(config=cfg))
        """,
        """
        import tensorflow as tf
        import keras
        tf.config.set_soft_device_placement(True)
        tf.debugging.set_log_device_placement(False)
        """,
    )


def test_conditional_mutations_stay_conditional():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.compat.v1.ConfigProto()
        cfg.gpu_options.allow_growth = True
        cfg.allow_soft_placement = True
        if n > 0:
            cfg.intra_op_parallelism_threads = n
            cfg.inter_op_parallelism_threads = n
        K.set_session(tf.compat.v1.Session(config=cfg))
        """,
        """
        import tensorflow as tf
        for gpu in tf.config.list_physical_devices('GPU'):
            tf.config.experimental.set_memory_growth(gpu, True)
        tf.config.set_soft_device_placement(True)
        if n > 0:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        """,
    )


def test_hide_gpus_through_device_count():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto(device_count={'GPU': 0, 'CPU': 1})
        K.set_session(tf.Session(config=cfg))
        """,
        """
        import tensorflow as tf
        tf.config.set_visible_devices([], 'GPU')
        """,
    )


def test_loop_variable_does_not_shadow_a_user_name():
    result = migrate(
        """
        import tensorflow as tf
        gpu = 0
        cfg = tf.ConfigProto()
        cfg.gpu_options.allow_growth = True
        sess = tf.Session(config=cfg)
        """
    )
    assert "for _gpu in tf.config.list_physical_devices('GPU'):" in result.new
    assert "gpu = 0" in result.new


@pytest.mark.parametrize(
    "field, value",
    [
        ("per_process_gpu_memory_fraction", "0.4"),
        ("experimental.use_unified_memory", "True"),
    ],
)
def test_gpu_fields_without_tf2_form_hold_the_rewrite_back(field, value):
    source = f"""
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto()
        cfg.gpu_options.{field} = {value}
        cfg.gpu_options.allow_growth = True
        K.set_session(tf.Session(config=cfg))
        """
    result = check_noop(source)
    assert codes(result, "manual") == ["TRM003"]
    assert sorted(codes(result, "unsafe")) == ["TRM003", "TRM004"]
    assert result.held_back == 2
    manual = next(f for f in result.findings if f.safety.value == "manual")
    assert field in manual.message and "no faithful TF2 form" in manual.message


def test_unsafe_fixes_apply_and_drop_the_field():
    result = migrate(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto(device_count={'CPU': 4}, intra_op_parallelism_threads=2)
        K.set_session(tf.Session(config=cfg))
        """,
        unsafe_fixes=True,
    )
    assert result.new == "import tensorflow as tf\ntf.config.threading.set_intra_op_parallelism_threads(2)\n"
    assert any(f.code == "TRM003" and f.safety.value == "manual" and "device_count" in f.message
               for f in result.findings)


def test_rewrite_options_are_manual():
    result = check_noop(
        """
        import tensorflow as tf
        cfg = tf.compat.v1.ConfigProto()
        cfg.graph_options.rewrite_options.layout_optimizer = OFF
        sess = tf.compat.v1.Session(config=cfg)
        """
    )
    assert "TRM003" in codes(result, "manual")


def test_config_used_elsewhere_is_kept_and_renamed_to_compat_v1():
    check_transformed(
        """
        import tensorflow as tf
        cfg = tf.ConfigProto(intra_op_parallelism_threads=1)
        run_config = tf.estimator.RunConfig(session_config=cfg)
        """,
        """
        import tensorflow as tf
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1)
        run_config = tf.estimator.RunConfig(session_config=cfg)
        """,
    )


def test_project_class_called_configproto_is_not_touched():
    check_noop(
        """
        from myproject.config import ConfigProto
        cfg = ConfigProto(intra_op_parallelism_threads=1)
        """
    )


# -- each binding is its own set-up (issue "Faithful on real code", section 5) ----------------

SHADOWED_CONFIG = """
    import tensorflow as tf
    from keras import backend as K
    config = tf.ConfigProto()
    config.gpu_options.allow_growth = True
    K.set_session(tf.Session(config=config))

    def make(gpu):
        if gpu:
            config = tf.ConfigProto()
            config.gpu_options.visible_device_list = gpu
        else:
            config = tf.ConfigProto(device_count={'GPU': 0})
        sess = tf.Session(config=config)
        return sess
    """

SHADOWED_CONFIG_OUT = """
    import tensorflow as tf
    for gpu in tf.config.list_physical_devices('GPU'):
        tf.config.experimental.set_memory_growth(gpu, True)

    def make(gpu):
        if gpu:
            config = tf.compat.v1.ConfigProto()
            config.gpu_options.visible_device_list = gpu
        else:
            config = tf.compat.v1.ConfigProto(device_count={'GPU': 0})
        sess = tf.compat.v1.Session(config=config)
        return sess
    """


def test_function_rebinding_the_name_does_not_credit_its_mutations_to_the_module_binding():
    result = check_transformed(SHADOWED_CONFIG, SHADOWED_CONFIG_OUT)
    module_level = [f for f in result.findings if f.line in (3, 5)]
    assert [(f.code, f.safety.value) for f in module_level] == [("TRM003", "safe"), ("TRM004", "safe")]
    assert "visible_device_list" not in module_level[0].message
    kept = [f.message for f in result.findings if f.code == "TRM003" and f.line in (9, 12)]
    assert len(kept) == 2 and all("`sess` is used after set-up (line 14)" in m for m in kept)


def test_unsafe_fixes_keep_the_pin_of_a_config_passed_to_a_kept_session():
    result = migrate(SHADOWED_CONFIG, unsafe_fixes=True)
    assert result.new == textwrap.dedent(SHADOWED_CONFIG_OUT).lstrip("\n")


def test_executed_shadowed_config(tmp_path):
    new = migrate(SHADOWED_CONFIG).new
    out = run_tf(new + "print('SESSIONS', type(make(None)).__name__, type(make('0')).__name__)\n", tmp_path,
                 prefix="SESSIONS")
    assert out == ["SESSIONS Session Session"]


def test_mutation_after_branches_sets_whichever_binding_ran_and_converts_once():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        if cpu:
            cfg = tf.ConfigProto(device_count={'GPU': 0})
        else:
            cfg = tf.ConfigProto()
        cfg.allow_soft_placement = True
        K.set_session(tf.Session(config=cfg))
        """,
        """
        import tensorflow as tf
        if cpu:
            tf.config.set_visible_devices([], 'GPU')
        else:
            pass
        tf.config.set_soft_device_placement(True)
        """,
    )


def test_mutation_after_branches_of_a_kept_session_holds_both_back():
    result = check_transformed(
        """
        import tensorflow as tf
        if cpu:
            cfg = tf.ConfigProto(device_count={'GPU': 0})
        else:
            cfg = tf.ConfigProto()
        cfg.allow_soft_placement = True
        sess = tf.Session(config=cfg)
        sess.run(op)
        """,
        """
        import tensorflow as tf
        if cpu:
            cfg = tf.compat.v1.ConfigProto(device_count={'GPU': 0})
        else:
            cfg = tf.compat.v1.ConfigProto()
        cfg.allow_soft_placement = True
        sess = tf.compat.v1.Session(config=cfg)
        sess.run(op)
        """,
    )
    assert "TRM004" in codes(result, "manual")


def test_two_functions_with_the_same_config_name_are_two_setups():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K

        def cpu():
            cfg = tf.ConfigProto(intra_op_parallelism_threads=2)
            K.set_session(tf.Session(config=cfg))

        def gpu():
            cfg = tf.ConfigProto()
            cfg.gpu_options.allow_growth = True
            K.set_session(tf.Session(config=cfg))
        """,
        """
        import tensorflow as tf

        def cpu():
            tf.config.threading.set_intra_op_parallelism_threads(2)

        def gpu():
            for _gpu in tf.config.list_physical_devices('GPU'):
                tf.config.experimental.set_memory_growth(_gpu, True)
        """,
    )


def test_gpu_options_bound_in_a_function_do_not_feed_the_module_config():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        opts = tf.GPUOptions(allow_growth=True)
        K.set_session(tf.Session(config=tf.ConfigProto(gpu_options=opts)))

        def other(x):
            if x:
                opts = tf.GPUOptions(per_process_gpu_memory_fraction=0.5)
                opts.allow_growth = False
            else:
                opts = None
            return opts
        """,
        """
        import tensorflow as tf
        for gpu in tf.config.list_physical_devices('GPU'):
            tf.config.experimental.set_memory_growth(gpu, True)

        def other(x):
            if x:
                opts = tf.GPUOptions(per_process_gpu_memory_fraction=0.5)
                opts.allow_growth = False
            else:
                opts = None
            return opts
        """,
    )


# -- GPU selection: visible_device_list (issue "Cover the shapes real code takes", section 1) --


def test_horovod_pinning_becomes_visible_devices_with_memory_growth():
    result = check_transformed(
        """
        import tensorflow as tf
        import horovod.keras as hvd
        from keras import backend as K
        hvd.init()
        conf = tf.ConfigProto()
        conf.gpu_options.allow_growth = True
        conf.gpu_options.visible_device_list = str(hvd.local_rank())
        K.set_session(tf.Session(config=conf))
        """,
        """
        import tensorflow as tf
        import horovod.keras as hvd
        hvd.init()
        gpus = tf.config.list_physical_devices('GPU')
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        if gpus:
            tf.config.set_visible_devices([gpus[int(i)] for i in str(hvd.local_rank()).split(',')], 'GPU')
        """,
    )
    assert [(f.code, f.safety.value) for f in result.findings] == [("TRM003", "safe"), ("TRM004", "safe")]
    assert "gpu_options.visible_device_list" in result.findings[0].message


@pytest.mark.parametrize(
    "value, listed",
    [
        ("'0'", "'0'"),
        ('"0,1"', '"0,1"'),
        ("args.gpu", "str(args.gpu)"),
        ("str(rank)", "str(rank)"),
        ("','.join(map(str, ids))", "','.join(map(str, ids))"),
        ("f'{rank}'", "f'{rank}'"),
        ("rank % 4", "str(rank % 4)"),
    ],
)
def test_the_device_list_expression_is_kept_verbatim(value, listed):
    check_transformed(
        f"""
        import tensorflow as tf
        from keras import backend as K
        K.set_session(tf.Session(config=tf.ConfigProto(gpu_options=tf.GPUOptions(visible_device_list={value}))))
        """,
        f"""
        import tensorflow as tf
        gpus = tf.config.list_physical_devices('GPU')
        if gpus:
            tf.config.set_visible_devices([gpus[int(i)] for i in {listed}.split(',')], 'GPU')
        """,
    )


def test_pin_in_a_branch_stays_in_the_branch_and_binds_its_own_list():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K

        def setup(args):
            cfg = tf.ConfigProto()
            cfg.gpu_options.allow_growth = True
            if args.gpu is not None:
                cfg.gpu_options.visible_device_list = args.gpu
            K.set_session(tf.Session(config=cfg))
        """,
        """
        import tensorflow as tf

        def setup(args):
            for gpu in tf.config.list_physical_devices('GPU'):
                tf.config.experimental.set_memory_growth(gpu, True)
            if args.gpu is not None:
                gpus = tf.config.list_physical_devices('GPU')
                if gpus:
                    tf.config.set_visible_devices([gpus[int(i)] for i in str(args.gpu).split(',')], 'GPU')
        """,
    )


def test_gpu_list_name_does_not_shadow_a_user_name():
    result = migrate(
        """
        import tensorflow as tf
        gpus = 4
        cfg = tf.ConfigProto()
        cfg.gpu_options.visible_device_list = '0'
        sess = tf.Session(config=cfg)
        """
    )
    assert "_gpus = tf.config.list_physical_devices('GPU')\nif _gpus:\n" in result.new
    assert "gpus = 4" in result.new


def test_pin_in_a_one_line_suite_is_held_back():
    result = check_noop(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto()
        if rank: cfg.gpu_options.visible_device_list = str(rank)
        K.set_session(tf.Session(config=cfg))
        """
    )
    assert "one-line suite" in next(f.message for f in result.findings if f.safety.value == "manual")


def test_pin_of_a_kept_graph_mode_session_is_kept():
    check_transformed(
        """
        import tensorflow as tf
        cfg = tf.ConfigProto()
        cfg.gpu_options.visible_device_list = str(rank)
        sess = tf.Session(config=cfg)
        sess.run(op)
        """,
        """
        import tensorflow as tf
        cfg = tf.compat.v1.ConfigProto()
        cfg.gpu_options.visible_device_list = str(rank)
        sess = tf.compat.v1.Session(config=cfg)
        sess.run(op)
        """,
    )


def test_project_object_with_a_visible_device_list_is_not_touched():
    check_noop(
        """
        from myproject.options import DeviceOptions
        opts = DeviceOptions()
        opts.gpu_options.visible_device_list = '0'
        """
    )


PINNED = """
    import os
    import tensorflow as tf
    from keras import backend as K
    rank = int(os.environ.get('LOCAL_RANK', '0'))
    conf = tf.ConfigProto()
    conf.gpu_options.allow_growth = True
    conf.gpu_options.visible_device_list = str(rank)
    if os.environ.get('TWO_GPUS'):
        conf.gpu_options.visible_device_list = '0,1'
    K.set_session(tf.Session(config=conf))
    """


def test_executed_pinning_runs_cleanly_without_gpus(tmp_path):
    new = migrate(PINNED).new
    assert "visible_device_list" not in new and "Session" not in new
    probe = ("print('GPUS', tf.config.list_physical_devices('GPU'), tf.config.get_visible_devices('GPU'), "
             "len(tf.config.get_visible_devices('CPU')), float(tf.reduce_sum(tf.ones([3]))))\n")
    assert run_tf(new + probe, tmp_path, prefix="GPUS") == ["GPUS [] [] 1 3.0"]


def test_a_later_rebinding_ends_the_earlier_set_up_so_each_block_converts():
    # the boilerplate pasted twice: libcst lets the second block's reads see both bindings;
    # the second `cfg = ...` always runs before them, so they see only it.
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto(intra_op_parallelism_threads=2)
        sess = tf.Session(config=cfg)
        K.set_session(sess)

        cfg = tf.ConfigProto()
        cfg.gpu_options.allow_growth = True
        sess = tf.Session(config=cfg)
        K.set_session(sess)
        """,
        """
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(2)

        for gpu in tf.config.list_physical_devices('GPU'):
            tf.config.experimental.set_memory_growth(gpu, True)
        """,
    )


def test_a_config_name_reused_for_a_number_does_not_keep_the_session():
    result = migrate(
        """
        import numpy as np
        import tensorflow as tf
        SEED = tf.ConfigProto(allow_soft_placement=True)
        tf.keras.backend.set_session(tf.Session(config=SEED))
        SEED = 1234
        np.random.seed(SEED)
        """
    )
    assert result.new == "import numpy as np\nimport tensorflow as tf\ntf.config.set_soft_device_placement(True)\nSEED = 1234\nnp.random.seed(SEED)\n"
    assert not codes(result, "manual")


def test_a_rebinding_inside_a_branch_does_not_end_the_set_up():
    # `cfg = A; if small: cfg = B`: both may run, and B replaces A's fields, so converting
    # each in place would keep A's soft placement under B: all of it is kept.
    result = migrate(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto(allow_soft_placement=True)
        if small:
            cfg = tf.ConfigProto(intra_op_parallelism_threads=1)
        cfg.log_device_placement = True
        K.set_session(tf.Session(config=cfg))
        """
    )
    assert "TRM004" in codes(result, "manual")
    assert "tf.compat.v1.Session(config=cfg)" in result.new


def test_an_empty_device_list_is_the_default_and_emits_nothing_for_it():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        cfg = tf.ConfigProto()
        cfg.gpu_options.allow_growth = True
        cfg.gpu_options.visible_device_list = ''
        K.set_session(tf.Session(config=cfg))
        """,
        """
        import tensorflow as tf
        for gpu in tf.config.list_physical_devices('GPU'):
            tf.config.experimental.set_memory_growth(gpu, True)
        """,
    )


BRANCH_CONFIGS = """
    import tensorflow as tf
    from keras import backend as K

    def setup(args):
        if args.cpu:
            config = tf.ConfigProto(device_count={'GPU': 0})
        else:
            config = tf.ConfigProto()
            config.gpu_options.allow_growth = True
            config.gpu_options.visible_device_list = args.gpu
        K.set_session(tf.Session(config=config))
    """


def test_a_config_bound_in_each_branch_is_converted_in_each_branch():
    result = check_transformed(
        BRANCH_CONFIGS,
        """
        import tensorflow as tf

        def setup(args):
            if args.cpu:
                tf.config.set_visible_devices([], 'GPU')
            else:
                gpus = tf.config.list_physical_devices('GPU')
                for gpu in gpus:
                    tf.config.experimental.set_memory_growth(gpu, True)
                if gpus:
                    tf.config.set_visible_devices([gpus[int(i)] for i in str(args.gpu).split(',')], 'GPU')
        """,
    )
    assert [(f.code, f.safety.value) for f in result.findings] == [
        ("TRM003", "safe"), ("TRM003", "safe"), ("TRM004", "safe")]


def test_executed_branch_configs(tmp_path):
    new = migrate(BRANCH_CONFIGS).new
    probe = ("class A:\n    cpu = True\n    gpu = '0'\n"
             "setup(A)\nprint('GPUS', tf.config.get_visible_devices('GPU'))\n"
             "A.cpu = False\nsetup(A)\nprint('GPUS', tf.config.get_visible_devices('GPU'))\n")
    assert run_tf(new + probe, tmp_path, prefix="GPUS") == ["GPUS []", "GPUS []"]


def test_one_branch_dropping_a_field_holds_back_the_session_with_it():
    result = check_noop(
        """
        import tensorflow as tf
        from keras import backend as K
        if small:
            cfg = tf.ConfigProto(gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=0.3))
        else:
            cfg = tf.ConfigProto(allow_soft_placement=True)
        K.set_session(tf.Session(config=cfg))
        """
    )
    assert sorted(codes(result, "unsafe")) == ["TRM003", "TRM003", "TRM004"]
    assert codes(result, "manual") == ["TRM003"] and not codes(result, "safe")


def test_a_branch_binding_that_is_not_a_config_keeps_them_all():
    result = check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        if small:
            cfg = tf.ConfigProto(allow_soft_placement=True)
        else:
            cfg = load_config()
        K.set_session(tf.Session(config=cfg))
        """,
        """
        import tensorflow as tf
        from keras import backend as K
        if small:
            cfg = tf.compat.v1.ConfigProto(allow_soft_placement=True)
        else:
            cfg = load_config()
        K.set_session(tf.compat.v1.Session(config=cfg))
        """,
    )
    assert any("`cfg` may be any of its bindings (lines 4, 6)" in f.message for f in result.findings)


def test_elif_chain_bindings_are_each_their_own_set_up():
    check_transformed(
        """
        import tensorflow as tf
        from keras import backend as K
        if mode == 'cpu':
            cfg = tf.ConfigProto(device_count={'GPU': 0})
        elif mode == 'one':
            cfg = tf.ConfigProto(intra_op_parallelism_threads=1)
        else:
            cfg = tf.ConfigProto(allow_soft_placement=True)
        K.set_session(tf.Session(config=cfg))
        """,
        """
        import tensorflow as tf
        if mode == 'cpu':
            tf.config.set_visible_devices([], 'GPU')
        elif mode == 'one':
            tf.config.threading.set_intra_op_parallelism_threads(1)
        else:
            tf.config.set_soft_device_placement(True)
        """,
    )


def test_bindings_in_a_loop_are_kept():
    result = migrate(
        """
        import tensorflow as tf
        from keras import backend as K
        for mode in modes:
            if mode:
                cfg = tf.ConfigProto(device_count={'GPU': 0})
            else:
                cfg = tf.ConfigProto(allow_soft_placement=True)
            K.set_session(tf.Session(config=cfg))
        """
    )
    assert "K.set_session(tf.compat.v1.Session(config=cfg))" in result.new
    assert "TRM004" in codes(result, "manual")
