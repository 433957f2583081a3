"""The import clean-up planned from the first scope analysis (imports.py) against libcst's own
AddImportsVisitor / RemoveImportsVisitor, which the engine used before and still uses for the
shapes the plan does not cover: same output text on every fixture and on the tricky shapes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tf_repro_migrate import engine
from tf_repro_migrate.context import Options
from tf_repro_migrate.imports import plan_removals

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY = Path(__file__).parent.parent / "fixtures" / "legacy_project"

SHAPES = {
    "several_names_per_import": """
        \"\"\"Doc.\"\"\"
        import os, random, sys
        import numpy as np, tensorflow as tf
        from keras import backend as K, layers
        np.random.seed(1)
        random.seed(1)
        tf.set_random_seed(1)
        print(sys.argv, layers)
        """,
    "exported_and_function_local_imports": """
        import numpy as np
        import random as rn
        __all__ = ["rn"]
        def f():
            import numpy as np
            np.random.seed(42)
            rn.seed(42)
            import tensorflow as tf
            tf.set_random_seed(42)
        np.random.seed(42)
        """,
    "from_import_keeps_a_name_and_a_string_annotation": """
        # header comment
        from numpy.random import seed  # comment on seed
        from tensorflow import set_random_seed, ConfigProto
        import tensorflow as tf
        x: "tf.Tensor" = None
        seed(1)
        set_random_seed(2)
        """,
    "renamed_from_imports": """
        from tensorflow import ConfigProto, Session
        sess = Session(config=ConfigProto())
        sess.run(op)
        """,
    "seed_between_imports": """
        import tensorflow as tf
        import numpy as np
        np.random.seed(0)
        tf.set_random_seed(0)
        import random
        random.seed(0)
        """,
    "parenthesized_from_import_with_comments": """
        from tensorflow import (
            set_random_seed,  # the TF1 seed
            Graph,  # kept
        )
        import numpy as np
        np.random.seed(3)
        set_random_seed(3)
        g = Graph()
        """,
    "keras_faq_after_a_comment_block": """
        # Seed everything.
        import numpy as np
        import tensorflow as tf
        import random as rn
        from keras import backend as K

        # The below is necessary for starting Numpy generated random numbers
        np.random.seed(42)
        rn.seed(12345)
        session_conf = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        tf.set_random_seed(1234)
        sess = tf.Session(graph=tf.get_default_graph(), config=session_conf)
        K.set_session(sess)
        """,
}


def _sources() -> list[tuple[str, str]]:
    found = [(p.name, p.read_text()) for p in sorted(FIXTURES.glob("*.in.py"))]
    found += [(p.name, p.read_text()) for p in sorted(LEGACY.glob("*.py"))]
    found += [(name, textwrap.dedent(text).lstrip("\n")) for name, text in SHAPES.items()]
    return found


def _both(text: str, unsafe: bool) -> tuple[str, str] | None:
    options = Options(unsafe_fixes=unsafe)
    analysis = engine.analyse_module(engine.parse(text), text, options)
    accepted = [f for f in analysis.findings if engine.default_accepted(f, options)]
    if not accepted:
        return None
    planned = engine.render(analysis, accepted)
    edits = [e for f in accepted for e in f.edits]
    return planned, engine.final_text(engine._render_with_libcst(analysis, edits), text)


@pytest.mark.parametrize("name,text", _sources(), ids=[n for n, _ in _sources()])
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_planned_import_cleanup_matches_libcst_visitors(name, text, unsafe):
    both = _both(text, unsafe)
    if both is None:
        pytest.skip("nothing to apply in this mode")
    planned, libcst_text = both
    assert planned == libcst_text


def test_the_plan_covers_the_common_shapes():
    # The speed-up only counts if the usual files do not fall back to libcst's visitors.
    for name, text in _sources():
        if name == "parenthesized_from_import_with_comments.py" or "(\n" in text.split("\n\n")[0]:
            continue
        analysis = engine.analyse_module(engine.parse(text), text, Options(unsafe_fixes=True))
        edits = [e for f in analysis.findings if f.edits for e in f.edits]
        assert plan_removals(analysis.ctx, text, edits) is not None, name


def test_parenthesized_partial_from_import_falls_back_to_libcst():
    text = textwrap.dedent(SHAPES["parenthesized_from_import_with_comments"]).lstrip("\n")
    analysis = engine.analyse_module(engine.parse(text), text, Options())
    edits = [e for f in analysis.findings if engine.default_accepted(f, Options()) for e in f.edits]
    assert edits
    assert plan_removals(analysis.ctx, text, edits) is None
