"""tf-repro-migrate: migrate TF1 / standalone-Keras reproducibility boilerplate to TF2 / Keras 3."""

__version__ = "0.1.0"
