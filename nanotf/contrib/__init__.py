"""tf.contrib: the parts of TF 1.x's contrib that common programs use, under TF's import paths.

Submodules load on first use, so `import nanotf` stays light."""
import importlib

_SUBMODULES = ("layers", "rnn", "factorization", "tensor_forest")


def __getattr__(name):
    if name == "data":          # tf.contrib.data was tf.data's home before TF 1.4
        return importlib.import_module("nanotf.data")
    if name in _SUBMODULES:
        return importlib.import_module("nanotf.contrib." + name)
    raise AttributeError("module 'nanotf.contrib' has no attribute %r" % name)
