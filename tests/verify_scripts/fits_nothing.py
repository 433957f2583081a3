"""Calls fit() but trains nothing: fit(epochs=0) and a fit over an empty
dataset.  Expected verdict: INCONCLUSIVE, even with --control."""
import numpy as np
import tensorflow as tf
import keras

keras.utils.set_random_seed(1)
tf.config.experimental.enable_op_determinism()
x = np.zeros((16, 2), dtype="float32")
model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, x[:, :1], epochs=0, verbose=0)
empty = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).take(0).batch(4)
model.fit(empty, epochs=1, verbose=0)
