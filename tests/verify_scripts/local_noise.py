"""A local module of uses_local_module.py: its generator has no seed."""
import numpy as np

rng = np.random.default_rng()


def jitter(x):
    return x + rng.normal(0, 0.01, size=x.shape).astype(x.dtype)
