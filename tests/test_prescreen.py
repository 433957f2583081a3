"""prescreen.py: the second pre-filter skips only files in which no rule can find anything."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tf_repro_migrate import engine
from tf_repro_migrate.context import Context, Options
from tf_repro_migrate.prescreen import ENTRY_NAMES, could_match

ROOT = Path(__file__).parent.parent
CORPUS = sorted((ROOT / "tests" / "fixtures").glob("*.py")) + sorted((ROOT / "fixtures").rglob("*.py"))


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


SKIPPED = {
    "other_rng": """
        import numpy as np
        rng = np.random.default_rng(0)
        rng.seed = 3
        seed(1)
        """,
    "library_session_module": """
        from tensorflow.python.client import session
        sess = session.Session()
        """,
    "relative_and_star_imports": """
        from . import random
        from numpy import *
        random.seed(1)
        """,
    "no_imports": """
        def set_random_seed(seed):
            Session(seed)
        """,
}

KEPT = {
    "aliased_module": "from numpy import random as r\nr.seed(1)\n",
    "dotted_import": "import os.path\nos.environ['PYTHONHASHSEED'] = '0'\n",
    "environ_name": "from os import environ\nenviron['CUDA_VISIBLE_DEVICES'] = ''\n",
    "import_in_a_function": "def f():\n    import tensorflow as t\n    t.set_random_seed(1)\n",
    "compat_v1_import_alone": "import tensorflow.compat.v1 as tf\n",
    "compat_from_import": "from tensorflow import compat\nx = 1\n",
    "keras_backend": "from keras import backend as K\nK.set_session(s)\n",
    "does_not_parse": "import tensorflow as tf\nprint 'x'\ntf.set_random_seed(1)\n",
}


@pytest.mark.parametrize("name", sorted(SKIPPED))
def test_files_no_rule_can_touch_are_skipped(name):
    text = _src(SKIPPED[name])
    assert not could_match(text)
    result = engine.migrate_source(text)
    assert result.skipped and result.new == text


@pytest.mark.parametrize("name", sorted(KEPT))
def test_files_that_may_hold_boilerplate_go_on(name):
    assert could_match(_src(KEPT[name]))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_a_skipped_file_would_have_had_no_findings(path):
    text = path.read_text()
    if could_match(text):
        return
    for unsafe in (False, True):
        analysis = engine.analyse_module(engine.parse(text), text, Options(unsafe_fixes=unsafe))
        assert analysis.findings == []


def test_every_name_a_rule_asks_about_is_an_entry_name(monkeypatch):
    asked: set[str] = set()
    calls_to, matches = Context.calls_to, Context.matches

    def record_calls(self, names):
        names = tuple(names)
        asked.update(names)
        return calls_to(self, names)

    def record_matches(self, node, names):
        names = tuple(names)
        asked.update(names)
        return matches(self, node, names)

    monkeypatch.setattr(Context, "calls_to", record_calls)
    monkeypatch.setattr(Context, "matches", record_matches)
    for path in CORPUS:
        text = path.read_text()
        for unsafe in (False, True):
            engine.analyse_module(engine.parse(text), text, Options(unsafe_fixes=unsafe))
    assert asked, "the corpus must exercise the rules"
    assert asked <= ENTRY_NAMES, sorted(asked - ENTRY_NAMES)
