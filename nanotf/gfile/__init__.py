"""tf.gfile: TensorFlow's file API on the local filesystem. See nanotf/platform/gfile.py."""
from nanotf.platform.gfile import *  # noqa: F401,F403
from nanotf.platform.gfile import __all__  # noqa: F401
