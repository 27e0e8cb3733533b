"""tf.compat: `tf.compat.v1` is nanotf itself, so TF 1.15-style code (`tf.compat.v1.placeholder`,
`import tensorflow.compat.v1 as tf` -> `import nanotf.compat.v1 as tf`) runs unchanged.

nanotf only has graph mode, which is what `disable_eager_execution()` and
`disable_v2_behavior()` ask for; they are accepted and do nothing.
"""

__all__ = ["v1", "disable_eager_execution", "disable_v2_behavior", "executing_eagerly"]


def disable_eager_execution():
    """Graph mode is nanotf's only mode: nothing to disable."""


def disable_v2_behavior():
    """nanotf behaves as TensorFlow 1.x: nothing to disable."""


def executing_eagerly():
    return False


def __getattr__(name):
    if name == "v1":          # imported on first use: nanotf.compat.v1 replaces itself with nanotf
        import importlib
        return importlib.import_module(__name__ + ".v1")
    raise AttributeError("module 'nanotf.compat' has no attribute %r" % name)
