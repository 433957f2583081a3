"""Fully seeded, but the data goes through an unseeded generator in a module
imported from the script's own directory.  Expected verdict: NOT
REPRODUCIBLE, inputs differ from batch 0, the module is named."""
import numpy as np
import tensorflow as tf
import keras

from local_noise import jitter

keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
x = jitter(np.linspace(0, 1, 32, dtype="float32").reshape(-1, 1))
model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, 3 * x, batch_size=8, epochs=1, shuffle=False, verbose=0)
