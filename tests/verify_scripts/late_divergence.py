"""Seeded Keras 3 fit whose PyDataset is reshuffled before each epoch but the first with an
unseeded NumPy generator (from a callback): epoch 0 agrees, the runs split at epoch 1.

Flags: --seeded-shuffle (the shuffle generator is seeded too: expected
REPRODUCIBLE), --lr X (learning rate, default 0.05).
Expected verdict without flags: NOT REPRODUCIBLE from epoch 1, batch 0.
"""
import sys

import numpy as np
import tensorflow as tf
import keras

keras.utils.set_random_seed(8)
tf.config.experimental.enable_op_determinism()
LR = float(sys.argv[sys.argv.index("--lr") + 1]) if "--lr" in sys.argv else 0.05


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.order = np.arange(len(x))
        self.rng = np.random.default_rng(0 if "--seeded-shuffle" in sys.argv else None)

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[idx], self.y[idx]



class Reshuffle(keras.callbacks.Callback):
    # Reshuffles the PyDataset's order before every epoch but the first.
    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        if epoch:
            self.data.rng.shuffle(self.data.order)


rng = np.random.RandomState(0)
x = rng.normal(size=(128, 4)).astype("float32")
y = (x @ np.array([[1.0], [-2.0], [0.5], [1.5]], dtype="float32")).astype("float32")
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
data = Batches(x, y, 16)
model.fit(data, epochs=3, verbose=0, callbacks=[Reshuffle(data)])
