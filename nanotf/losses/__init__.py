"""tf.losses."""
from nanotf.ops.losses.losses_impl import *  # noqa: F401,F403
