"""tf.losses."""
from nanotf.ops.nn_ops import _losses_namespace as _ns  # noqa: F401

globals().update(_ns())
