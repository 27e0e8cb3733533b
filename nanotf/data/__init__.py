"""tf.data: Dataset pipelines and iterators, run by the Session in graph mode."""
