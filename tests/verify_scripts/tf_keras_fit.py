"""A Keras 2 script kept on tf_keras: fit(), then a train_on_batch loop.

Flags: --legacy-env (TF_USE_LEGACY_KERAS=1 and `tf.keras`, instead of
`import tf_keras`), --legacy-optimizer (tf_keras.optimizers.legacy.SGD),
--unseeded.  Expected verdict: REPRODUCIBLE when seeded.
"""
import os
import sys

if "--legacy-env" in sys.argv:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf

    keras = tf.keras
else:
    import tensorflow as tf
    import tf_keras as keras

import numpy as np

if "--unseeded" not in sys.argv:
    keras.utils.set_random_seed(3)
    tf.config.experimental.enable_op_determinism()

rng = np.random.RandomState(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x[:, :1] > 0).astype("float32")
model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,)),
                          keras.layers.Dropout(0.3), keras.layers.Dense(1, activation="sigmoid")])
optimizer = keras.optimizers.legacy.SGD(0.1) if "--legacy-optimizer" in sys.argv else keras.optimizers.Adam(0.01)
model.compile(optimizer=optimizer, loss="binary_crossentropy")
model.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0)
for i in range(4):
    model.train_on_batch(x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16])
print("keras", keras.__name__ if hasattr(keras, "__name__") else keras)
