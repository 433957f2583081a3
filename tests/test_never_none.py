"""``never_none``: the seed expressions consolidation may hand to ``keras.utils.set_random_seed``
(which raises on None), tested on real parsed code, with the look-alikes that must be refused."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper

from helpers import check_transformed
from tf_repro_migrate.analysis import never_none
from tf_repro_migrate.context import Context, Options


def _verdict(source: str) -> bool:
    """never_none() of the argument of the last ``use(...)`` call in ``source``."""
    module = cst.parse_module(textwrap.dedent(source).lstrip("\n"))
    ctx = Context(MetadataWrapper(module, unsafe_skip_copy=True), Options())
    uses = [c for c in ctx.index.calls if isinstance(c.func, cst.Name) and c.func.value == "use"]
    assert uses, "the test source must call use(<seed expression>)"
    return never_none(ctx, uses[-1].args[0].value)


ARGPARSE = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument('--epochs', type=int, default=3)
{decl}
args = parser.parse_args()
{extra}
use(args.{attr})
"""


def argparse_source(decl: str, attr: str = "seed", extra: str = "") -> str:
    return ARGPARSE.format(decl=decl, attr=attr, extra=extra)


@pytest.mark.parametrize(
    "decl, attr",
    [
        ("parser.add_argument('--seed', type=int, default=0)", "seed"),
        ("parser.add_argument('--rng-seed', type=int, default=11)", "rng_seed"),
        ("parser.add_argument('-s', '--seed', type=int, default=-1, help='seed')", "seed"),
        ("parser.add_argument('--s', dest='my_seed', type=int, default=7)", "my_seed"),
        ("parser.add_argument('--seed', type=int, default=int('3'))", "seed"),
    ],
)
def test_argparse_int_option_with_int_default_is_never_none(decl, attr):
    assert _verdict(argparse_source(decl, attr))


def test_argparse_default_may_be_a_module_constant():
    source = argparse_source("parser.add_argument('--seed', type=int, default=SEED)").replace(
        "import argparse", "import argparse\nSEED = 42"
    )
    assert _verdict(source)


def test_argparse_seed_read_inside_a_function():
    assert _verdict(
        """
        from argparse import ArgumentParser
        ap = ArgumentParser(description='x')
        ap.add_argument('--seed', type=int, default=5)
        opts = ap.parse_args()

        def main():
            use(opts.seed)
        """
    )


@pytest.mark.parametrize(
    "decl",
    [
        "parser.add_argument('--seed', type=int, default=None)",
        "parser.add_argument('--seed', type=int)",
        "parser.add_argument('--seed', type=int, nargs='?', default=0)",
        "parser.add_argument('--seed', type=int, default=0, action='store')",
        "parser.add_argument('--seed', default=0)",
        "parser.add_argument('--seed', type=str, default=0)",
        "parser.add_argument('--seed', type=int, default=SEED)",  # SEED never bound
        "parser.add_argument('--seed', type=int, default=0)\nparser.add_argument('--no-seed', dest='seed', "
        "action='store_const', const=None)",
        "parser.add_argument('--seed', type=int, default=0)\nparser.set_defaults(seed=None)",
        "parser.add_argument('--seed', type=int, default=0)\nadd_more_options(parser)",
        "parser.add_argument(*SEED_FLAGS, type=int, default=0)",
    ],
)
def test_argparse_look_alikes_may_be_none(decl):
    assert not _verdict(argparse_source(decl))


@pytest.mark.parametrize(
    "extra",
    [
        "args.seed = None",
        "if args.seed < 0:\n    args.seed = random_seed()",
        "del args.seed",
        "setattr(args, 'seed', None)",
        "vars(args).update(overrides)",
        "args = load_config(args)",
        "def reseed():\n    args.seed += 1",
    ],
)
def test_argparse_namespace_written_may_be_none(extra):
    assert not _verdict(argparse_source("parser.add_argument('--seed', type=int, default=0)", extra=extra))


def test_argparse_parse_known_args():
    source = argparse_source("parser.add_argument('--seed', type=int, default=0)")
    assert _verdict(source.replace("args = parser.parse_args()", "args, unknown = parser.parse_known_args()"))
    assert not _verdict(source.replace("args = parser.parse_args()", "unknown, args = parser.parse_known_args()"))
    assert not _verdict(source.replace("args = parser.parse_args()", "args, unknown = parser.parse_args()"))


def test_argparse_namespace_from_a_function_parameter_may_be_none():
    assert not _verdict(
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument('--seed', type=int, default=0)

        def main(args):
            use(args.seed)
        """
    )


def test_a_parser_that_is_not_argparse_may_be_none():
    assert not _verdict(
        """
        import myconfig
        parser = myconfig.ArgumentParser()
        parser.add_argument('--seed', type=int, default=0)
        args = parser.parse_args()
        use(args.seed)
        """
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("SEED = 42\nuse(SEED)", True),
        ("SEED: int = 42\nuse(SEED)", True),
        ("BASE = 7\nSEED = BASE\nuse(SEED)", True),
        ("import os\nSEED = int(os.environ.get('SEED', 0))\ndef f():\n    use(SEED)", True),
        ("SEED = 42\nSEED = None\nuse(SEED)", False),
        ("SEED = 42\ndef f():\n    global SEED\n    SEED = None\ndef g():\n    use(SEED)", False),
        ("SEED = os.environ.get('SEED')\nuse(SEED)", False),
        ("from config import SEED\nuse(SEED)", False),
        ("SEED = BASE\nuse(SEED)", False),
        ("A = B = 3\nuse(A)", False),
    ],
)
def test_module_constants(source, expected):
    assert _verdict(source) is expected


INIT = """
class Trainer:
{class_attr}
    def __init__(self{params}):
{init}

    def seed_everything(self):
        use(self._seed)
{more}
"""


def init_source(init: str, params: str = "", class_attr: str = "", more: str = "") -> str:
    indent = lambda text, n: textwrap.indent(textwrap.dedent(text), " " * n)  # noqa: E731
    return INIT.format(init=indent(init, 8), params=params, class_attr=indent(class_attr, 4),
                       more=indent(more, 4))


@pytest.mark.parametrize(
    "init, params",
    [
        ("self._seed = 42", ""),
        ("self.name = 'x'\nself._seed = int(seed)", ", seed"),
        ("self._seed = seed", ", seed=0"),
    ],
)
def test_attribute_set_once_in_init_is_never_none(init, params):
    assert _verdict(init_source(init, params))


@pytest.mark.parametrize(
    "init, params, class_attr, more",
    [
        ("self._seed = seed", ", seed=None", "", ""),
        ("self._seed = seed", ", seed", "", ""),
        ("if fixed:\n    self._seed = 42", ", fixed", "", ""),
        ("self._seed = 42", "", "_seed = None", ""),
        ("self._seed = 42", "", "", "def reset(self):\n    self._seed = None"),
        ("self._seed = 42", "", "", "def reset(self):\n    setattr(self, '_seed', None)"),
        ("self._seed = 42", "", "", "@staticmethod\ndef other(self):\n    use(self._seed)"),
        ("self.seed = 42", "", "", ""),
    ],
)
def test_attribute_look_alikes_may_be_none(init, params, class_attr, more):
    assert not _verdict(init_source(init, params, class_attr, more))


def test_attribute_written_outside_the_class_may_be_none():
    source = init_source("self._seed = 42") + "\ntrainer = Trainer()\ntrainer._seed = None\n"
    assert not _verdict(source)


def test_attribute_of_another_object_may_be_none():
    assert not _verdict(
        """
        class Trainer:
            def __init__(self):
                self._seed = 42

        def run(trainer):
            use(trainer._seed)
        """
    )


# -- what consolidation (TRM002) makes of them -------------------------------------------------------


def test_argparse_seed_pair_consolidates():
    check_transformed(
        """
        import argparse
        import random
        import numpy as np
        import tensorflow as tf
        ap = argparse.ArgumentParser()
        ap.add_argument('--rng-seed', type=int, default=11)
        opts = ap.parse_args()
        random.seed(opts.rng_seed); np.random.seed(opts.rng_seed); tf.set_random_seed(opts.rng_seed)
        """,
        """
        import argparse
        import tensorflow as tf
        import keras

        ap = argparse.ArgumentParser()
        ap.add_argument('--rng-seed', type=int, default=11)
        opts = ap.parse_args()
        keras.utils.set_random_seed(opts.rng_seed)
        """,
    )


def test_argparse_seed_with_none_default_stays_separate():
    result = check_transformed(
        """
        import argparse
        import random
        import numpy as np
        import tensorflow as tf
        ap = argparse.ArgumentParser()
        ap.add_argument('--seed', type=int, default=None)
        opts = ap.parse_args()
        random.seed(opts.seed); np.random.seed(opts.seed); tf.set_random_seed(opts.seed)
        """,
        """
        import argparse
        import random
        import numpy as np
        import tensorflow as tf
        ap = argparse.ArgumentParser()
        ap.add_argument('--seed', type=int, default=None)
        opts = ap.parse_args()
        random.seed(opts.seed); np.random.seed(opts.seed); tf.random.set_seed(opts.seed)
        """,
    )
    assert "keras" not in result.new


def test_init_attribute_seed_consolidates():
    check_transformed(
        """
        import random
        import numpy as np
        import tensorflow as tf

        class Trainer:
            def __init__(self):
                self._seed = 42

            def seed(self):
                random.seed(self._seed)
                np.random.seed(self._seed)
                tf.set_random_seed(self._seed)
        """,
        """
        import tensorflow as tf
        import keras

        class Trainer:
            def __init__(self):
                self._seed = 42

            def seed(self):
                keras.utils.set_random_seed(self._seed)
        """,
    )
