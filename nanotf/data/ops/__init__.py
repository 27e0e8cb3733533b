"""tf.data's datasets (dataset_ops) and iterators with their graph ops (iterator_ops)."""
