"""tf.contrib.tensor_forest.python: `tensor_forest` (ForestHParams, RandomForestGraphs)."""
from nanotf.contrib.tensor_forest.python import tensor_forest  # noqa: F401
