"""Chooses the framework the example programs run on: nanotf (default) or TensorFlow's compat.v1 (for benchmarks).

`tf` is the framework; `rnn` is its tf.contrib.rnn, or on TensorFlow 2 (whose compat.v1 has no contrib) the
same cells and functions where it keeps them, under tf.nn.
"""
import os
import types

if os.environ.get("NANOTF_BENCH_FRAMEWORK", "nanotf") == "tensorflow":
    import tensorflow.compat.v1 as tf  # noqa: F401
    tf.disable_v2_behavior()
else:
    import nanotf as tf  # noqa: F401


def __getattr__(name):
    # `rnn` is made only when a program imports it: on TensorFlow, tf.nn.rnn_cell loads Keras, which the other
    # programs (and their benchmark timings) should not pay for
    if name != "rnn":
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    if getattr(tf, "contrib", None) is not None:
        return tf.contrib.rnn
    return types.SimpleNamespace(BasicLSTMCell=tf.nn.rnn_cell.BasicLSTMCell, static_rnn=tf.nn.static_rnn,
                                 static_bidirectional_rnn=tf.nn.static_bidirectional_rnn)
