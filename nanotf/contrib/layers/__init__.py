"""tf.contrib.layers: flatten, fully_connected, conv2d, batch_norm, regularizers and initializers."""
from nanotf.contrib.layers.layers import *  # noqa: F401,F403
from nanotf.contrib.layers.regularizers import *  # noqa: F401,F403
from nanotf.contrib.layers.initializers import *  # noqa: F401,F403
