"""tf.io: the file API under its TF 2 / TF 1.15 names (`tf.io.gfile.exists`, ...)."""
from nanotf.io import gfile  # noqa: F401
