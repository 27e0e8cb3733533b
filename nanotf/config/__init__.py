"""tf.config: the parts that apply to a CPU-only NumPy engine (thread counts)."""
from nanotf.config import threading  # noqa: F401
