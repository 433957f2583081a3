"""Resumes from a checkpoint at an absolute path (sys.argv[1]) when it
exists, and writes it at the end: the second run starts where the first
stopped.  Expected verdict: NOT REPRODUCIBLE, "run 2 read ..., which run 1
wrote"."""
import os
import sys

import numpy as np
import tensorflow as tf
import keras

CKPT = sys.argv[1]
keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
x = np.linspace(0, 1, 32, dtype="float32").reshape(-1, 1)
if os.path.exists(CKPT):
    model = keras.models.load_model(CKPT)
else:
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
model.fit(x, 3 * x, batch_size=8, epochs=1, shuffle=False, verbose=0)
model.save(CKPT)
