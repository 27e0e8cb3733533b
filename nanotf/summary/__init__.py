"""tf.summary: summary ops and the FileWriter that writes TensorBoard event files."""
from nanotf.summary.summary import *  # noqa: F401,F403
from nanotf.summary.writer import *  # noqa: F401,F403
