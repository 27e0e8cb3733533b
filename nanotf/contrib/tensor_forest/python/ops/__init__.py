"""tensor_forest's graph ops: the tree resource and its training, inference and size ops (model_ops)."""
