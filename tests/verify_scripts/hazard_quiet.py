"""Seeded, but op determinism is never enabled: a hazard that may show in
only some runs (for this tiny CPU model it does not).  verify must show the
hazard, escalate to 5 runs unless --runs is given, and say what the agreement
is worth.  Expected verdict: REPRODUCIBLE.
"""
import numpy as np
import keras

keras.utils.set_random_seed(2)
x = np.linspace(0, 1, 32, dtype="float32").reshape(-1, 1)
model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, 3 * x, batch_size=8, epochs=1, shuffle=False, verbose=0)
