"""Runs fine but trains nothing: expected INCONCLUSIVE."""
import numpy as np

print("mean", np.arange(10).mean())
