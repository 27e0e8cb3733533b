"""tf.contrib.tensor_forest: TF 1.x's online random forests (`tensor_forest.python.tensor_forest`)."""
from nanotf.contrib.tensor_forest import python  # noqa: F401
