"""Fits two different models one after the other; both must be captured."""
import numpy as np
import keras

keras.utils.set_random_seed(3)

x = np.linspace(-1, 1, 96, dtype="float32").reshape(-1, 2)
y = (x[:, :1] * 3.0 - x[:, 1:]).astype("float32")

first = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(4), keras.layers.Dense(1)], name="first")
first.compile(optimizer="sgd", loss="mse")
first.fit(x, y, batch_size=16, epochs=2, verbose=0)

inputs = keras.Input(shape=(2,))
outputs = keras.layers.Dense(1)(keras.layers.Dense(3, activation="relu")(inputs))
second = keras.Model(inputs, outputs, name="second")
second.compile(optimizer="adam", loss="mae", metrics=["mse"])
second.fit(x, y, batch_size=24, epochs=1, validation_split=0.25, verbose=0)
