"""tf.nn: activations, losses and layers' building blocks."""
from nanotf.ops.nn_ops import *  # noqa: F401,F403
from nanotf.ops.conv_ops import *  # noqa: F401,F403
from nanotf.ops.pooling_ops import *  # noqa: F401,F403
from nanotf.ops.embedding_ops import *  # noqa: F401,F403
from nanotf.ops.rnn import *  # noqa: F401,F403
from nanotf.nn import rnn_cell  # noqa: F401,E402
from nanotf.ops.nn_impl import *  # noqa: F401,F403
