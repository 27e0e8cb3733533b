"""tf.app: `run` and `flags` (the same module object as tf.flags)."""
from nanotf import flags
from nanotf.platform.app import run

__all__ = ["flags", "run"]
