"""Seeded Keras 3 training with op determinism and a random tf.data pipeline.

Expected verdict: REPRODUCIBLE.
"""
import sys

import numpy as np
import tensorflow as tf
import keras

SEEDED = "--unseeded" not in sys.argv

if SEEDED:
    keras.utils.set_random_seed(1234)
    tf.config.experimental.enable_op_determinism()


def make_data(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    # Fixed data so that only the training randomness can differ.
    rng = np.random.RandomState(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, :2].sum(axis=1, keepdims=True) > 0).astype("float32")
    return x, y


def augment(x, y):
    # A stateful random augmentation inside a parallel map.
    return x + tf.random.normal(tf.shape(x), stddev=0.05), y


x, y = make_data()
ds = (
    tf.data.Dataset.from_tensor_slices((x, y))
    .shuffle(256)
    .map(augment, num_parallel_calls=2)
    .batch(32)
)

model = keras.Sequential(
    [
        keras.Input(shape=(8,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(ds, epochs=2, verbose=0)
print("done")
