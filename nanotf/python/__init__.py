"""TF's `tensorflow.python` import paths that TF 1.x programs use directly."""
