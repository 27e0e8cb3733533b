"""tf.errors."""
from nanotf.framework.errors import *  # noqa: F401,F403
from nanotf.framework.errors import OpError  # noqa: F401
