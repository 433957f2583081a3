"""A seeded script whose input pipeline races between threads.

Seeds are set (keras.utils.set_random_seed) but op determinism is not, and
the data pipeline draws random numbers from several threads at once, so
the order in which elements get their random numbers varies from run to
run, sometimes.  Expected verdict: NOT REPRODUCIBLE, but only some pairs of
runs differ: two runs agree by chance often enough that a 2-run REPRODUCIBLE
cannot be trusted.

Modes: default, a tf.data ``map(..., num_parallel_calls=AUTOTUNE,
deterministic=False)`` with a stateful random op; ``--pydataset``, a
``keras.utils.PyDataset(workers=4)`` whose batches draw from the global
NumPy RNG.
"""
import sys

import numpy as np
import tensorflow as tf
import keras

keras.utils.set_random_seed(3)

rng = np.random.RandomState(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")


def noisy(xb, yb):
    return xb + tf.random.uniform(tf.shape(xb), maxval=0.1), yb


class Noisy(keras.utils.PyDataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i):
        sl = slice(8 * i, 8 * i + 8)
        return x[sl] + np.random.uniform(0, 0.1, size=x[sl].shape).astype("float32"), y[sl]


if "--pydataset" in sys.argv:
    data = Noisy(workers=4)
else:
    data = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(8)
        .map(noisy, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    )

model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(4), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(data, epochs=1, verbose=0)
