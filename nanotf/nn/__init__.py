"""tf.nn: activations, losses and layers' building blocks."""
from nanotf.ops.nn_ops import *  # noqa: F401,F403
from nanotf.ops.conv_ops import *  # noqa: F401,F403
