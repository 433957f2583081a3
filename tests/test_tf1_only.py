"""The table of TF1-only names (tf1_only.py), checked against the installed TensorFlow 2:
every left-hand name is missing under ``tensorflow`` and every TF2 spelling exists."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from test_fixtures import tf_env
from tf_repro_migrate.tf1_only import MODULES, NAMES, tf2_spelling

PROBE = r"""
import json, sys
import tensorflow as tf

def lookup(path):
    obj = tf
    for part in path.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True

names = json.loads(sys.argv[1])
print(json.dumps({name: lookup(name) for name in names}))
"""


def test_every_tf1_name_is_gone_and_its_tf2_spelling_exists():
    pytest.importorskip("tensorflow")
    old = [*NAMES, *MODULES]
    new = [v for v in NAMES.values()] + [v for v in MODULES.values() if v is not None]
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(old + new)], env=tf_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    present = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [n for n in old if present[n]] == [], "TF1-only names that TF2 still has"
    assert [n for n in new if not present[n]] == [], "TF2 spellings that TF2 does not have"


@pytest.mark.parametrize(
    "qualified, expected",
    [
        ("tensorflow.placeholder", "tf.compat.v1.placeholder"),
        ("tensorflow.train.Saver", "tf.compat.v1.train.Saver"),
        ("tensorflow.logging.set_verbosity", "tf.compat.v1.logging.set_verbosity"),
        ("tensorflow.logging", "tf.compat.v1.logging"),
        ("tensorflow.contrib.slim", ""),
        ("tensorflow.random_uniform", "tf.random.uniform"),
        ("tensorflow.compat.v1.placeholder", None),
        ("tensorflow.random.uniform", None),
        ("tensorflow.train.Checkpoint", None),
        ("numpy.placeholder", None),
    ],
)
def test_tf2_spelling(qualified, expected):
    assert tf2_spelling(qualified) == expected
