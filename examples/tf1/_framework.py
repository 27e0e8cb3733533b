"""Chooses the framework the example programs run on: nanotf (default) or TensorFlow's compat.v1 (for benchmarks)."""
import os
if os.environ.get("NANOTF_BENCH_FRAMEWORK", "nanotf") == "tensorflow":
    import tensorflow.compat.v1 as tf  # noqa: F401
    tf.disable_v2_behavior()
else:
    import nanotf as tf  # noqa: F401
