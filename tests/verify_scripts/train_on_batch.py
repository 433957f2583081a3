"""A Keras 3 train_on_batch() loop, with evaluate() and predict() at the end.

Flags: --unseeded (no seeds: expected NOT REPRODUCIBLE from the first
call), --noisy-outputs (training is seeded but predict() adds unseeded
noise: only --compare-outputs notices), --write FILE (save the predictions).
"""
import sys

import numpy as np
import tensorflow as tf
import keras

if "--unseeded" not in sys.argv:
    keras.utils.set_random_seed(2)
    tf.config.experimental.enable_op_determinism()

rng = np.random.RandomState(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x @ np.array([[1.0], [-1.0], [0.5], [2.0]], dtype="float32")).astype("float32")
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dropout(0.2), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
for step in range(8):
    i = step % 4
    model.train_on_batch(x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16])
model.evaluate(x, y, verbose=0)
inputs = x
if "--noisy-outputs" in sys.argv:
    inputs = x + np.random.default_rng().normal(size=x.shape).astype("float32") * 1e-3
predictions = model.predict(inputs, verbose=0)
if "--write" in sys.argv:
    np.save(sys.argv[sys.argv.index("--write") + 1], predictions)
