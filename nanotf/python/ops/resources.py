"""tensorflow.python.ops.resources: shared_resources / initialize_resources."""
