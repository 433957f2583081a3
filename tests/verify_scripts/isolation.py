"""Reads a relative input file and writes files into its working directory.

Every run must start from the original files: if one run could see what
another wrote, the asserts below fail and the verdict is SCRIPT FAILED.
"""
import os

import numpy as np
import keras

assert not os.path.exists("out.txt"), "out.txt left over from another run"
assert not os.path.exists(os.path.join("inputs", "written.txt")), "inputs/written.txt left over"
with open("state.txt") as fh:
    state = fh.read().strip()
assert state == "fresh", f"state.txt was modified by another run: {state!r}"

data = np.loadtxt(os.path.join("inputs", "data.csv"), delimiter=",", dtype="float32")
x, y = data[:, :2], data[:, 2:]

keras.utils.set_random_seed(11)
model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, batch_size=4, epochs=1, verbose=0)

with open("out.txt", "w") as fh:
    fh.write("written by the script\n")
with open(os.path.join("inputs", "written.txt"), "w") as fh:
    fh.write("also written\n")
with open("state.txt", "w") as fh:
    fh.write("dirty\n")
