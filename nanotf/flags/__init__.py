"""tf.flags (also tf.app.flags): command-line flags. See nanotf/platform/flags.py."""
from nanotf.platform.flags import *  # noqa: F401,F403
from nanotf.platform.flags import __all__  # noqa: F401
