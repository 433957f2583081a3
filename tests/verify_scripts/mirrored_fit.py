"""One Keras 3 fit() under tf.distribute.MirroredStrategy (one CPU replica).

The optimizer step runs in a replica thread; it must be counted once, as
part of the fit, not again as a custom loop.
"""
import numpy as np
import tensorflow as tf
import keras

keras.utils.set_random_seed(5)
tf.config.experimental.enable_op_determinism()
strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
rng = np.random.RandomState(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True).astype("float32")
with strategy.scope():
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, batch_size=16, epochs=1, verbose=0)
print("replicas", strategy.num_replicas_in_sync)
