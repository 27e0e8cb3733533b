"""tf.contrib.tensor_forest.python.tensor_forest: ForestHParams and RandomForestGraphs."""
