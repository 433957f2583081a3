"""Derives its seed from hash() of a string: depends on PYTHONHASHSEED."""
import numpy as np
import keras
import tensorflow as tf

SEED = hash("experiment-42") % 1000
keras.utils.set_random_seed(SEED)
tf.config.experimental.enable_op_determinism()

x = np.linspace(0, 1, 64, dtype="float32").reshape(-1, 1)
y = 2 * x + 1
model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(4), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, batch_size=16, epochs=1, verbose=0)
