"""tf.logging: TensorFlow 1.x's logging functions on a stdlib logger named 'nanotf'.

(Inside nanotf, `import logging` still means the standard library: imports are absolute.)
See nanotf/platform/tf_logging.py.
"""
from nanotf.platform.tf_logging import *  # noqa: F401,F403
from nanotf.platform.tf_logging import __all__  # noqa: F401
