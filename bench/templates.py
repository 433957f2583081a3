"""Boilerplate templates for the benchmark tree, one per shape of shared/PATTERNS.md.

Each template is a ``string.Template`` over a few random parameters (seeds, names,
thread counts), so a generated tree holds many spellings of each shape rather
than thousands of copies of one file. Templates are complete top-level Python
(their own imports included): ``generate_tree`` splices them between top-level
statements of an ordinary file, where they stay valid Python.
"""

from __future__ import annotations

import random
from string import Template

# name -> template. Placeholders: $s1 $s2 $s3 (ints), $n (threads), $fn (a helper name),
# $frac (a memory fraction), $var (a variable name).
TEMPLATES: dict[str, Template] = {
    "keras_faq": Template('''\
import os
import random as rn
import numpy as np
import tensorflow as tf
os.environ['PYTHONHASHSEED'] = '0'
np.random.seed($s1)
rn.seed($s2)
session_conf = tf.ConfigProto(intra_op_parallelism_threads=1,
                              inter_op_parallelism_threads=1)
from keras import backend as K
tf.set_random_seed($s3)
sess = tf.Session(graph=tf.get_default_graph(), config=session_conf)
K.set_session(sess)
'''),
    "gpu_memory_session": Template('''\
import tensorflow as tf
import keras.backend as K
$var = tf.ConfigProto()
$var.gpu_options.allow_growth = True  # grab memory as needed
K.set_session(tf.Session(config=$var))
'''),
    "seed_pair": Template('''\
import numpy as np
import tensorflow as tf
$var = $s1
np.random.seed($var)
tf.set_random_seed($var)  # for reproducibility
'''),
    "seed_helper": Template('''\
import os
import random
import numpy as np
import tensorflow as tf


def $fn(seed=$s1):
    """Seed every library."""
    os.environ['PYTHONHASHSEED'] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    tf.set_random_seed(seed)
'''),
    "reset_graph": Template('''\
import numpy as np
import tensorflow as tf


def reset_graph(seed=$s1):
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    np.random.seed(seed)
'''),
    "stackoverflow_steps": Template('''\
seed_value = $s1
import os; os.environ['PYTHONHASHSEED'] = str(seed_value)
import random; random.seed(seed_value)
import numpy as np; np.random.seed(seed_value)
import tensorflow as tf; tf.set_random_seed(seed_value)
session_conf = tf.ConfigProto(intra_op_parallelism_threads=$n, inter_op_parallelism_threads=$n)
sess = tf.Session(graph=tf.get_default_graph(), config=session_conf)
from keras import backend as K
K.set_session(sess)
'''),
    "compat_v1_spellings": Template('''\
import tensorflow as tf
tf.compat.v1.set_random_seed($s1)
$var = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
sess = tf.compat.v1.Session(graph=tf.compat.v1.get_default_graph(), config=$var)
tf.compat.v1.keras.backend.set_session(sess)
'''),
    "memory_fraction": Template('''\
import tensorflow as tf
from keras.backend.tensorflow_backend import set_session
opts = tf.GPUOptions(per_process_gpu_memory_fraction=$frac, allow_growth=True)
set_session(tf.Session(config=tf.ConfigProto(gpu_options=opts, allow_soft_placement=True)))
'''),
    "bare_names": Template('''\
from numpy.random import seed
from tensorflow import set_random_seed
seed($s1)
set_random_seed($s2)
'''),
    "argparse_seed": Template('''\
import argparse
import numpy as np
import tensorflow as tf
_parser = argparse.ArgumentParser()
_parser.add_argument('--seed', type=int, default=$s1)
args, _ = _parser.parse_known_args([])
np.random.seed(seed=args.seed)
tf.set_random_seed(args.seed)
'''),
    "graph_scoped": Template('''\
import tensorflow as tf
g = tf.Graph()
with g.as_default():
    tf.set_random_seed($s1)  # per-graph seed
    $var = tf.random_uniform([2])
'''),
    "force_cpu": Template('''\
import os
os.environ['CUDA_DEVICE_ORDER'] = 'PCI_BUS_ID'
os.environ['CUDA_VISIBLE_DEVICES'] = '-1'
import tensorflow as tf
tf.set_random_seed($s1)
'''),
    "determinism_env": Template('''\
import os
os.environ['TF_DETERMINISTIC_OPS'] = '1'
os.environ['TF_CUDNN_DETERMINISTIC'] = 'true'
import tensorflow as tf
tf.random.set_seed($s1)
'''),
    "config_mutations": Template('''\
import tensorflow as tf
from keras import backend as K
$var = tf.compat.v1.ConfigProto()
$var.gpu_options.allow_growth = True
$var.allow_soft_placement = True
$var.log_device_placement = False
if $n > 0:
    $var.intra_op_parallelism_threads = $n
    $var.inter_op_parallelism_threads = $n
K.set_session(tf.compat.v1.Session(config=$var))
'''),
    "nested_expression": Template('''\
import tensorflow as tf
from keras import backend as K
K.set_session(tf.Session(config=tf.ConfigProto(gpu_options=tf.GPUOptions(allow_growth=True))))
'''),
    "compat_v1_module": Template('''\
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
tf.set_random_seed($s1)
$var = tf.placeholder(tf.float32, [None, 4])
'''),
    "graph_mode_session": Template('''\
import tensorflow as tf
cfg = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
tf.set_random_seed($s1)
x_in = tf.placeholder(tf.float32, [None, 2])
sess = tf.Session(config=cfg)
sess.run(tf.global_variables_initializer())
'''),
    "interactive_session": Template('''\
from tensorflow.compat.v1 import ConfigProto, InteractiveSession
$var = ConfigProto()
$var.gpu_options.allow_growth = True
InteractiveSession(config=$var)
'''),
    "method_seed": Template('''\
import numpy as np
import tensorflow as tf


class SeededModel$s1:
    def __init__(self, seed=None):
        self._seed = seed

    def reset(self):
        if self._seed is not None:
            np.random.seed(self._seed)
            tf.set_random_seed(self._seed)
'''),
    "version_shim": Template('''\
import tensorflow as tf
try:
    tf.compat.v1.set_random_seed($s1)
except AttributeError:
    tf.set_random_seed($s1)
'''),
}

HELPER_NAMES = ("set_seed", "seed_everything", "reset_random_seeds", "fix_seeds", "init_seeds", "seed_all")
VAR_NAMES = ("config", "cfg", "session_conf", "tf_config", "conf", "SEED", "my_seed")


def render(name: str, rng: random.Random) -> str:
    """One rendering of template ``name`` with parameters drawn from ``rng``."""
    var = rng.choice(VAR_NAMES)
    return TEMPLATES[name].substitute(
        s1=rng.choice((0, 1, 7, 42, 1234, 2020)),
        s2=rng.choice((0, 2, 12345, 42)),
        s3=rng.choice((0, 3, 1234, 42)),
        n=rng.choice((1, 2, 4)),
        fn=rng.choice(HELPER_NAMES),
        frac=rng.choice((0.3, 0.4, 0.9)),
        var=var,
    )
