"""A custom GradientTape training loop (no fit).

Flags: --unseeded (no seeds: expected NOT REPRODUCIBLE), --eager (no
tf.function, so the harness can digest every step's gradients).
Ends with sys.exit(0), which must still count as success.
"""
import sys

import numpy as np
import tensorflow as tf
import keras

if "--unseeded" not in sys.argv:
    keras.utils.set_random_seed(7)
    tf.config.experimental.enable_op_determinism()

rng = np.random.RandomState(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], dtype="float32")).astype("float32")

model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
optimizer = keras.optimizers.SGD(learning_rate=0.05)
loss_fn = keras.losses.MeanSquaredError()


def train_step(xb, yb):
    with tf.GradientTape() as tape:
        loss = loss_fn(yb, model(xb, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


if "--eager" not in sys.argv:
    train_step = tf.function(train_step)

ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64).batch(16)
for epoch in range(2):
    for xb, yb in ds:
        loss = train_step(xb, yb)
print("final loss", float(loss))
sys.exit(0)
