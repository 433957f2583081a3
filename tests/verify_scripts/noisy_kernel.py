"""Seeded, with op determinism, but one layer behaves like a nondeterministic
kernel from step 3 on: its forward pass (default) or only its gradient
(``--grad``) picks up noise from an unseeded source.  Inputs and weights stay
equal until then, so verify must name the layer and the step.
Expected verdict: NOT REPRODUCIBLE, "layer `jitter` output differs at step 3".
"""
import os
import sys

import numpy as np
import tensorflow as tf
import keras

keras.utils.set_random_seed(5)
tf.config.experimental.enable_op_determinism()
GRAD_ONLY = "--grad" in sys.argv
calls = [0]


def _noise() -> np.float32:
    calls[0] += 1
    if calls[0] <= 3:  # steps 0-2 are clean
        return np.float32(0.0)
    return np.float32(int.from_bytes(os.urandom(2), "little") / 65536.0)


def noise() -> tf.Tensor:
    return tf.reshape(tf.py_function(_noise, [], tf.float32), [])


@tf.custom_gradient
def noisy_grad(x):
    def grad(upstream):
        return upstream * (1.0 + 1e-2 * noise())
    return tf.identity(x), grad


class Jitter(keras.layers.Layer):
    def call(self, x):
        if GRAD_ONLY:
            return noisy_grad(x)
        return x * (1.0 + 1e-2 * noise())


rng = np.random.RandomState(0)
x = rng.normal(size=(48, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([
    keras.Input(shape=(4,)),
    keras.layers.Dense(4, name="dense_1"),
    Jitter(name="jitter"),
    keras.layers.Dense(1, name="dense_2"),
])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
